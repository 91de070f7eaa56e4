import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PODVISORD = join(__dirname, '..', '..', 'bin', 'podvisord.js');
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

/** A scratch directory with the paths one daemon uses; the config file is not created. */
export async function testDirs(): Promise<TestDirs> {
  const dir = await mkdtemp(join(tmpdir(), 'podvisor-test-'));
  const cniDir = join(dir, 'cni');
  await mkdir(cniDir);
  return {
    dir,
    socket: join(dir, 'run', 'podvisor.sock'),
    root: join(dir, 'root'),
    runroot: join(dir, 'run'),
    cniDir,
    configFile: join(dir, 'podvisor.conf'),
  };
}

export function removeDirs(dirs: TestDirs): Promise<void> {
  return rm(dirs.dir, { recursive: true, force: true });
}

/** Flags that keep a test daemon entirely inside its scratch directory. */
export function isolatingFlags(dirs: TestDirs): string[] {
  return ['--config', dirs.configFile, '--socket', dirs.socket, '--root', dirs.root, '--runroot', dirs.runroot, '--cni-config-dir', dirs.cniDir];
}

/** A podvisord child process, its output collected as it comes. */
export class DaemonProcess {
  readonly exited: Promise<Exit>;
  private output = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Runs podvisord with `args` and returns at once. */
  static spawn(args: string[]): DaemonProcess {
    return new DaemonProcess(spawn(process.execPath, [PODVISORD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** Runs podvisord and waits until it serves (rejects with its output if it exits first). */
  static async serving(args: string[]): Promise<DaemonProcess> {
    const daemon = DaemonProcess.spawn(args);
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
        reject(new Error(`podvisord exited before printing "${text}":\n${this.output}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`podvisord did not print "${text}" within ${timeoutMs} ms:\n${this.output}`));
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
      new Promise<Exit>((_resolve, reject) => setTimeout(() => reject(new Error(`podvisord did not exit:\n${this.output}`)), EXIT_TIMEOUT_MS).unref()),
    ]);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.waitForExit();
  }
}
