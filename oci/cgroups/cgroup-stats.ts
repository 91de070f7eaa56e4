import { CGROUP_ROOT, cgroupVersion, podHierarchies } from './cgroup-hierarchies';
import type { CgroupStatsReader } from './cgroup-usage';
import { type V1ControllerDirs, v1StatsReader } from './cgroup-v1-stats';
import { v2StatsReader } from './cgroup-v2-stats';

async function v1ControllerDirs(): Promise<V1ControllerDirs> {
  const v1 = (await podHierarchies()).filter((hierarchy) => hierarchy.version === 'v1');
  const dir = (controller: string): string | undefined => v1.find((hierarchy) => hierarchy.controllers.includes(controller))?.mountPoint;
  return { cpuacct: dir('cpuacct'), memory: dir('memory'), pids: dir('pids') };
}

async function detectReader(): Promise<CgroupStatsReader> {
  if ((await cgroupVersion()) === 'v2') return v2StatsReader(CGROUP_ROOT);
  return v1StatsReader(await v1ControllerDirs());
}

let host: Promise<CgroupStatsReader> | undefined;

/** The reader for this host's cgroups; the version and mounts are looked up once, on first use. */
export function hostStatsReader(): Promise<CgroupStatsReader> {
  host ??= detectReader().catch((error: unknown) => {
    host = undefined;
    throw error;
  });
  return host;
}
