import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { InternalError, errorMessage } from '../../system/errors';
import { killProcessGroup } from '../../system/kill-helper';
import type { Logger } from '../../system/logger';
import { withTimeout } from '../../system/with-timeout';
import { relayAttachSocket, type AttachSession } from './attach-socket';
import { conmonExecArgs } from './conmon-args';
import { controlFifo, forwardResizes } from './conmon-control';
import { syncMessages, type SyncMessage } from './conmon-sync';
import type { StreamIO } from '../stream-io';

// Each step of conmon's handshake is quick; past this conmon is stuck.
const HANDSHAKE_TIMEOUT_MS = 30_000;
// conmon exits right after reporting the exit code; past this it is killed.
const CONMON_EXIT_WAIT_MS = 10_000;
// What conmon keeps, when its own startup fails, to tell us why.
const MAX_STDERR_BYTES = 4096;

export interface ConmonExecOptions {
  conmonPath: string;
  runtimePath: string;
  /** Global flags conmon hands the runtime ahead of `exec`. */
  runtimeArgs: string[];
  containerId: string;
  /** The container's bundle: the process in its config.json is the base of the exec'd one. */
  bundleDir: string;
  /** Each session gets a directory of its own in here, removed when the session ends. */
  sessionsDir: string;
  logger: Logger;
}

/** The container's own process (user, env, capabilities...), running `cmd` instead. */
async function execProcessSpec(bundleDir: string, cmd: string[], terminal: boolean): Promise<object> {
  const config: unknown = JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8'));
  const base = typeof config === 'object' && config !== null ? (config as Record<string, unknown>).process : undefined;
  if (typeof base !== 'object' || base === null) throw new InternalError(`${join(bundleDir, 'config.json')} has no process`);
  return { ...base, args: cmd, terminal };
}

function pipeOf(child: ChildProcess, fd: number): Socket {
  const pipe = child.stdio[fd];
  if (!(pipe instanceof Socket)) throw new InternalError(`conmon pipe ${fd} was not created`);
  return pipe;
}

async function nextMessage(messages: AsyncGenerator<SyncMessage>, what: string, describe: () => string, timeoutMs?: number): Promise<SyncMessage> {
  const next = messages.next();
  const result = timeoutMs === undefined ? await next : await withTimeout(next, timeoutMs, `conmon did not report ${what} within ${timeoutMs} ms`);
  if (result.done === true) throw new InternalError(`conmon ended before reporting ${what}: ${describe()}`);
  return result.value;
}

/** Waits for conmon to exit; one that does not (or that we gave up on) is killed. */
async function reapConmon(conmon: ChildProcess, exited: Promise<void>, patient: boolean): Promise<void> {
  if (conmon.pid !== undefined && conmon.exitCode === null && conmon.signalCode === null) {
    if (!patient) conmon.kill('SIGKILL');
    await withTimeout(exited, CONMON_EXIT_WAIT_MS, 'conmon did not exit').catch(() => conmon.kill('SIGKILL'));
  }
  for (const fd of [3, 4, 5]) (conmon.stdio[fd] as Socket | null)?.destroy();
}

/**
 * Runs one conmon exec session. conmon's handshake (see conmon.c): it waits for a first message
 * on the start pipe, makes the attach socket and control FIFO and says so on the attach pipe;
 * we connect to the socket and send a second start message; conmon runs `runc exec`, reports
 * the pid on the sync pipe and, once the process ended and its output went out, the exit code.
 */
async function runSession(options: ConmonExecOptions, args: string[], execDir: string, io: StreamIO): Promise<number> {
  const conmon = spawn(options.conmonPath, args, {
    cwd: execDir,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' },
  });
  const exited = new Promise<void>((resolve) => conmon.once('exit', () => resolve()));
  let stderr = '';
  conmon.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8');
  });
  const describe = (): string => stderr.trim() || 'no message';
  const relayStop = new AbortController();
  let relay: AttachSession | undefined;
  let stopResizes = (): void => undefined;
  let pid = 0;
  let exitCode: number | undefined;
  // The exec'd process leads its own session (runc makes it so); its children go with it.
  const killProcess = (): void => {
    if (pid > 0) killProcessGroup(pid);
  };
  try {
    const started = new Promise<never>((_resolve, reject) => conmon.once('error', (error) => reject(new InternalError(`cannot run conmon: ${errorMessage(error)}`))));
    await Promise.race([started, new Promise((resolve) => conmon.once('spawn', resolve))]);
    const sync = syncMessages(pipeOf(conmon, 3));
    const start = pipeOf(conmon, 4);
    start.on('error', () => undefined);
    start.write('0');
    const ready = await nextMessage(syncMessages(pipeOf(conmon, 5)), 'its attach socket', describe, HANDSHAKE_TIMEOUT_MS);
    if (ready.pid !== 0) throw new InternalError(`conmon could not make the attach socket: ${ready.message ?? describe()}`);
    if (io.tty && io.resizes !== undefined) stopResizes = forwardResizes(controlFifo(execDir), io.resizes, options.logger);
    relay = relayAttachSocket(execDir, io, relayStop.signal);
    await withTimeout(relay.connected, HANDSHAKE_TIMEOUT_MS, 'the exec attach socket did not connect');
    start.end('0');
    const running = await nextMessage(sync, 'the exec pid', describe, HANDSHAKE_TIMEOUT_MS);
    if (running.pid <= 0) throw new InternalError(`exec in ${options.containerId} failed: ${(running.message ?? describe()).trim()}`);
    pid = running.pid;
    if (io.signal.aborted) killProcess();
    else io.signal.addEventListener('abort', killProcess, { once: true });
    // No deadline: the process runs as long as it likes; the client ends it through io.signal.
    const exit = await nextMessage(sync, 'the exit code', describe);
    await relay.finished;
    exitCode = exit.pid;
    return exitCode;
  } finally {
    io.signal.removeEventListener('abort', killProcess);
    stopResizes();
    // A session that failed half-way must not leave the process running unseen.
    if (exitCode === undefined) killProcess();
    relayStop.abort();
    await relay?.finished.catch(() => undefined);
    await reapConmon(conmon, exited, exitCode !== undefined);
  }
}

/** Runs `cmd` in the running container through a conmon exec session; resolves to its exit code. */
export async function execWithConmon(options: ConmonExecOptions, cmd: string[], io: StreamIO): Promise<number> {
  const sessionId = randomBytes(8).toString('hex');
  const execDir = join(options.sessionsDir, sessionId);
  await mkdir(execDir, { recursive: true });
  try {
    const processSpecPath = join(execDir, 'process.json');
    await writeFile(processSpecPath, JSON.stringify(await execProcessSpec(options.bundleDir, cmd, io.tty)));
    const args = conmonExecArgs({
      containerId: options.containerId,
      sessionId,
      execDir,
      processSpecPath,
      terminal: io.tty,
      stdin: io.stdin !== undefined,
      runtimePath: options.runtimePath,
      runtimeArgs: options.runtimeArgs,
    });
    return await runSession(options, args, execDir, io);
  } finally {
    await rm(execDir, { recursive: true, force: true });
  }
}
