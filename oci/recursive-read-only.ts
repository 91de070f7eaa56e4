import { release } from 'node:os';
import { runTool } from '../system/run-tool';

const FEATURES_TIMEOUT_MS = 5_000;

/** Whether a kernel release ("6.1.0-18-amd64") has mount_setattr(2), which came in 5.12. */
export function hasMountSetattr(kernelRelease: string): boolean {
  const [major, minor] = kernelRelease.split(/[.-]/).map((part) => Number.parseInt(part, 10));
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor)) return false;
  return major > 5 || (major === 5 && minor >= 12);
}

/**
 * The mount options an OCI runtime says it knows (`<runtime> features`); none when it has no
 * such command. Rejects when the runtime cannot be run at all.
 */
async function runtimeMountOptions(runtimePath: string): Promise<string[]> {
  const outcome = await runTool(runtimePath, ['features'], { timeoutMs: FEATURES_TIMEOUT_MS });
  if (outcome.exitCode !== 0) return [];
  try {
    const parsed: unknown = JSON.parse(outcome.stdout);
    const options = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).mountOptions : undefined;
    return Array.isArray(options) ? options.filter((option): option is string => typeof option === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Whether an OCI runtime can make recursive read-only mounts (option "rro") under `kernelRelease`,
 * as the CRI tells runc-compatible runtimes to check: the kernel has mount_setattr and
 * `runtime features` lists rro. Rejects when the runtime cannot be run.
 */
export async function recursiveReadOnlySupported(runtimePath: string, kernelRelease = release()): Promise<boolean> {
  if (!hasMountSetattr(kernelRelease)) return false;
  return (await runtimeMountOptions(runtimePath)).includes('rro');
}
