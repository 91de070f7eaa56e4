import { CgroupDriver, type RuntimeConfigRequest, type RuntimeConfigResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';

// The kubelet (1.28+) reads the cgroup driver from here instead of its own flag.
export async function runtimeConfig(ctx: ServerContext, _request: RuntimeConfigRequest): Promise<RuntimeConfigResponse> {
  const cgroupDriver = ctx.config.cgroup_manager === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS;
  return { linux: { cgroupDriver } };
}
