import { runTool } from '../../system/run-tool';
import { hybridUnifiedControllers } from '../cgroups/cgroup-hierarchies';

const VERSION_TIMEOUT_MS = 5_000;

/** Which OCI runtime a binary is, from the first word of its `--version` ("runc version 1.1.5"). */
export async function runtimeName(runtimePath: string): Promise<string> {
  const outcome = await runTool(runtimePath, ['--version'], { timeoutMs: VERSION_TIMEOUT_MS });
  return outcome.stdout.trim().split(/\s+/)[0] ?? '';
}

/**
 * Why `runtime` cannot make container cgroups on this host, or undefined when it can. crun
 * refuses every cgroup on a hybrid host whose v2 hierarchy holds any controller, whatever its
 * --cgroup-manager; systemd's hybrid layout mounts each controller as v1, which leaves none there.
 */
export async function runtimeCgroupProblem(runtime: string): Promise<string | undefined> {
  if (runtime !== 'crun') return undefined;
  const controllers = await hybridUnifiedControllers();
  if (controllers.length === 0) return undefined;
  return `crun does not run on hybrid cgroups while the v2 hierarchy holds controllers (${controllers.join(', ')}); mount each as a v1 hierarchy, e.g. mount -t cgroup -o ${controllers[0]} cgroup /sys/fs/cgroup/${controllers[0]}`;
}
