import { join } from 'node:path';
import type { CreateOptions } from '../runtime-handler';

/** Everything conmon needs to create one container and watch it. */
export interface ConmonLaunch extends Pick<CreateOptions, 'id' | 'bundle' | 'logPath' | 'terminal' | 'stdin' | 'stdinOnce'> {
  runtimePath: string;
  /** Global flags conmon hands the runtime ahead of each subcommand (`--root`...). */
  runtimeArgs: string[];
  systemdCgroup: boolean;
  exitsDir: string;
  /** This container's own directory for conmon's pid files, exit/oom files and sockets. */
  persistDir: string;
}

/** Where conmon writes the pid of the container's first process. */
export function containerPidFile(persistDir: string): string {
  return join(persistDir, 'pid');
}

/** Where conmon writes its own pid, so a restarted daemon can find it. */
export function conmonPidFile(persistDir: string): string {
  return join(persistDir, 'conmon.pid');
}

/** Present once conmon has seen the container's cgroup run out of memory. */
export function oomFile(persistDir: string): string {
  return join(persistDir, 'oom');
}

/** conmon's own diagnostics, kept for error messages. */
export function conmonStderrFile(persistDir: string): string {
  return join(persistDir, 'conmon.stderr');
}

/** Command line for conmon 2.1: API version 1 reports the pid as `{"data": <pid>}` on the sync pipe. */
export function conmonArgs(launch: ConmonLaunch): string[] {
  const args = [
    '--api-version', '1',
    '--cid', launch.id,
    '--cuuid', launch.id,
    '--name', launch.id,
    '--runtime', launch.runtimePath,
    '--bundle', launch.bundle,
    '--container-pidfile', containerPidFile(launch.persistDir),
    '--conmon-pidfile', conmonPidFile(launch.persistDir),
    '--log-path', `k8s-file:${launch.logPath}`,
    '--exit-dir', launch.exitsDir,
    '--persist-dir', launch.persistDir,
    // conmon links its attach socket here and refuses to start if the directory is missing.
    '--socket-dir-path', launch.persistDir,
    '--log-level', 'info',
  ];
  args.push(...runtimeAndStreamFlags(launch));
  // Without this conmon closes the container's stdin as an attached client leaves: stdin_once.
  if (launch.stdin && !launch.stdinOnce) args.push('--leave-stdin-open');
  if (launch.systemdCgroup) args.push('--systemd-cgroup');
  return args;
}

/** The flags a container launch and an exec launch share: runtime arguments, tty and stdin. */
function runtimeAndStreamFlags(launch: Pick<ConmonLaunch, 'runtimeArgs' | 'terminal' | 'stdin'>): string[] {
  const args: string[] = [];
  for (const runtimeArg of launch.runtimeArgs) args.push('--runtime-arg', runtimeArg);
  if (launch.terminal) args.push('--terminal');
  if (launch.stdin) args.push('--stdin');
  return args;
}

/** Everything conmon needs to run one process in a running container, attached to a client. */
export interface ConmonExecLaunch {
  containerId: string;
  /** Names this exec session (conmon's --cuuid). */
  sessionId: string;
  /** The session's own directory: process spec, pid file, attach socket and control FIFO. */
  execDir: string;
  processSpecPath: string;
  terminal: boolean;
  stdin: boolean;
  runtimePath: string;
  runtimeArgs: string[];
}

/**
 * Command line for a conmon exec session: conmon runs `runc exec --detach`, keeps the process's
 * streams on its attach socket (made straight in the exec directory: --full-attach) and reports
 * the exit code on the sync pipe. --sync keeps conmon our child, so the session can be killed.
 */
export function conmonExecArgs(launch: ConmonExecLaunch): string[] {
  return [
    '--api-version', '1',
    '--cid', launch.containerId,
    '--cuuid', launch.sessionId,
    '--runtime', launch.runtimePath,
    '--bundle', launch.execDir,
    '--full-attach',
    '--container-pidfile', join(launch.execDir, 'pid'),
    // The client gets the output; the container's log is for its main process only.
    '--log-path', 'none',
    '--exec', '--exec-attach',
    '--exec-process-spec', launch.processSpecPath,
    '--sync',
    '--log-level', 'info',
    ...runtimeAndStreamFlags(launch),
  ];
}
