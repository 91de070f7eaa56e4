import { join } from 'node:path';
import { ContainerConfig, type ContainerMetadata, type PodSandboxMetadata } from '../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../system/errors';
import { cachedParse } from '../system/per-object-cache';
import type { ServerContext } from './context';
import { checkContainerConfig } from './request-validation';

/** The config with the fields every container needs, or InvalidArgument naming what is missing. */
export interface ValidContainerConfig {
  config: ContainerConfig;
  metadata: ContainerMetadata;
  image: string;
}

export function validContainerConfig(config: ContainerConfig | undefined): ValidContainerConfig {
  if (!config) throw new InvalidArgumentError('CreateContainer: config is missing');
  const metadata = config.metadata;
  if (!metadata || metadata.name === '') throw new InvalidArgumentError('CreateContainer: config.metadata.name is empty');
  const image = config.image?.image ?? '';
  if (image === '') throw new InvalidArgumentError('CreateContainer: config.image.image is empty');
  checkContainerConfig(config);
  return { config, metadata, image };
}

/** The name the kubelet expects reserved for a container, one per attempt. */
export function containerName(metadata: ContainerMetadata, pod: PodSandboxMetadata | undefined): string {
  return `k8s_${metadata.name}_${pod?.name ?? ''}_${pod?.namespace ?? ''}_${pod?.uid ?? ''}_${metadata.attempt}`;
}

export function storedContainerConfig(config: ContainerConfig): unknown {
  return ContainerConfig.toJSON(config);
}

/** The config stored in a container record, parsed once per stored object. */
export const loadedContainerConfig: (stored: unknown) => ContainerConfig = cachedParse((stored) => ContainerConfig.fromJSON(stored));

/** Where a container's OCI bundle (config.json) lives. */
export function containerBundle(ctx: ServerContext, id: string): string {
  return join(ctx.config.runroot, 'containers', id);
}

/** Where containers' root filesystems live, one directory each. */
export function containersStorage(ctx: ServerContext): string {
  return join(ctx.config.root, 'storage', 'containers');
}

/** Where the container's root filesystem lives: its overlay mount and writable layer. */
export function containerStorage(ctx: ServerContext, id: string): string {
  return join(containersStorage(ctx), id);
}

export function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}
