import type { ContainerRecord } from '../state/container-record';
import { loadedContainerConfig } from './container-config';
import type { ServerContext } from './context';

export interface ContainerMatch {
  id?: string;
  podSandboxId?: string;
  labelSelector?: Record<string, string>;
}

/** The containers a CRI filter selects: ID prefix, pod ID prefix, every selector label equal. */
export function matchingContainers(ctx: ServerContext, filter: ContainerMatch | undefined): ContainerRecord[] {
  const selector = Object.entries(filter?.labelSelector ?? {});
  return ctx.state.containers
    .list()
    .filter((container) => !filter?.id || container.id.startsWith(filter.id))
    .filter((container) => !filter?.podSandboxId || container.podId.startsWith(filter.podSandboxId))
    .filter((container) => {
      if (selector.length === 0) return true;
      const labels = loadedContainerConfig(container.config).labels;
      return selector.every(([key, value]) => labels[key] === value);
    });
}
