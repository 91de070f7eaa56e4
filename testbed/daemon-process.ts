import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PODVISORD = join(__dirname, '..', 'bin', 'podvisord.js');

/** The node flags on podvisord's first line (`#!/usr/bin/env -S node FLAGS`). */
function daemonNodeFlags(): string[] {
  const words = readFileSync(PODVISORD, 'utf8').split('\n', 1)[0].split(/\s+/);
  return words.slice(words.indexOf('node') + 1);
}
const START_TIMEOUT_MS = 15000;
const EXIT_TIMEOUT_MS = 20000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestDirs {
  dir: string;
  socket: string;
  root: string;
  runroot: string;
  cniDir: string;
  configFile: string;
}

/** The paths one daemon uses in the scratch directory `dir`. */
export function dirsIn(dir: string): TestDirs {
  return {
    dir,
    socket: join(dir, 'run', 'podvisor.sock'),
    root: join(dir, 'root'),
    runroot: join(dir, 'run'),
    cniDir: join(dir, 'cni'),
    configFile: join(dir, 'podvisor.conf'),
  };
}

/** A scratch directory with the paths one daemon uses; the config file is not created. */
export async function testDirs(prefix = 'podvisor-test-'): Promise<TestDirs> {
  const dirs = dirsIn(await mkdtemp(join(tmpdir(), prefix)));
  await mkdir(dirs.cniDir);
  return dirs;
}

export function removeDirs(dirs: TestDirs): Promise<void> {
  return rm(dirs.dir, { recursive: true, force: true });
}

/** Flags that keep a test daemon entirely inside its scratch directory. */
export function isolatingFlags(dirs: TestDirs): string[] {
  return ['--config', dirs.configFile, '--socket', dirs.socket, '--root', dirs.root, '--runroot', dirs.runroot, '--cni-config-dir', dirs.cniDir];
}

/** A daemon child process (podvisord, or a peer runtime the bench compares), its output collected as it comes. */
export class DaemonProcess {
  readonly exited: Promise<Exit>;
  private output = '';

  private constructor(
    readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /**
   * Runs podvisord with `args` and returns at once. `ownSession` puts it in a session of its
   * own, so a Ctrl-C meant for the caller does not reach it (nor the tools it runs).
   * `nodeFlags` go to node itself (e.g. --cpu-prof).
   */
  static spawn(args: string[], ownSession = false, nodeFlags: string[] = []): DaemonProcess {
    // Run as an executable, so node gets the flags podvisord's own first line gives it; extra
    // node flags (some are refused in NODE_OPTIONS) need node named, with those flags repeated.
    if (nodeFlags.length === 0) return DaemonProcess.spawnProgram(PODVISORD, args, ownSession, 'podvisord');
    return DaemonProcess.spawnProgram(process.execPath, [...daemonNodeFlags(), ...nodeFlags, PODVISORD, ...args], ownSession, 'podvisord');
  }

  /** Runs another program as a daemon and returns at once. */
  static spawnProgram(file: string, args: string[], ownSession = false, name = file): DaemonProcess {
    return new DaemonProcess(spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: ownSession }), name);
  }

  /** Runs podvisord and waits until it serves (rejects with its output if it exits first). */
  static async serving(args: string[], ownSession = false, nodeFlags: string[] = []): Promise<DaemonProcess> {
    const daemon = DaemonProcess.spawn(args, ownSession, nodeFlags);
    await daemon.waitForOutput('podvisord serving CRI v1');
    return daemon;
  }

  get log(): string {
    return this.output;
  }

  waitForOutput(text: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!this.output.includes(text)) return false;
        cleanup();
        resolve();
        return true;
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error(`${this.name} exited before printing "${text}":\n${this.output}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not print "${text}" within ${timeoutMs} ms:\n${this.output}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.stdout?.off('data', check);
        this.child.stderr?.off('data', check);
        this.child.off('exit', onExit);
      };
      if (check()) return;
      this.child.stdout?.on('data', check);
      this.child.stderr?.on('data', check);
      this.child.once('exit', onExit);
    });
  }

  /** Waits for the process to end, failing the test if it hangs. */
  waitForExit(): Promise<Exit> {
    return Promise.race([
      this.exited,
      new Promise<Exit>((_resolve, reject) => setTimeout(() => reject(new Error(`${this.name} did not exit:\n${this.output}`)), EXIT_TIMEOUT_MS).unref()),
    ]);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.waitForExit();
  }
}
