// A small filesystem mounted where a test wants a disk it can fill, the one edge where a full
// disk is made on cue: ext4 on a loop device (as a root on disk is), or a size-limited tmpfs (as
// a runroot under /run is). Made and torn down by the test itself.
import { mkdir, mkdtemp, open, rm, stat, statfs, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode } from '../../system/error-code';
import { command } from './net-tools';

const MIB = 1024 * 1024;
const BLOCK = 4096;
// Where fill() puts what takes the space: made with the filesystem, so it needs no block later.
const FILLER_DIR = '.filler';
// ext4 gives back the blocks it held for a file a moment after the file is closed.
const MAX_CRUMB_ROUNDS = 100;

/** The ext4 image behind a filesystem: its file and the loop device it is attached to. */
interface LoopImage {
  dir: string;
  device: string;
}

export class SmallFilesystem {
  private constructor(
    /** Where it is mounted. */
    readonly mountPoint: string,
    private readonly image: LoopImage | undefined,
  ) {}

  /**
   * A filesystem of `sizeMiB` mounted at `mountPoint` (an existing directory). An ext4 one has no
   * blocks reserved for root, so the daemon (root) meets a full disk when the test fills it.
   */
  static async mount(mountPoint: string, sizeMiB: number, type: 'ext4' | 'tmpfs'): Promise<SmallFilesystem> {
    const image = type === 'ext4' ? await mountExt4(mountPoint, sizeMiB) : undefined;
    if (type === 'tmpfs') await command('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0711`, 'tmpfs', mountPoint]);
    const made = new SmallFilesystem(mountPoint, image);
    try {
      await mkdir(made.fillerDir);
    } catch (error) {
      await made.unmount();
      throw error;
    }
    return made;
  }

  private get fillerDir(): string {
    return join(this.mountPoint, FILLER_DIR);
  }

  /**
   * Takes every free block, then gives back `leaveBytes`: writes that need more fail with ENOSPC
   * until free() is called. One big file takes most; the blocks ext4 held back for it (given back
   * as it is closed) then go to small files, one block each.
   */
  async fill(leaveBytes = 0): Promise<void> {
    const big = join(this.fillerDir, 'big');
    const file = await open(big, 'a');
    try {
      for (const size of [MIB, BLOCK]) await writeUntilFull(() => file.write(Buffer.alloc(size, 1)).then(() => undefined));
    } finally {
      await file.close();
    }
    let crumbs = 0;
    for (let round = 0; round < MAX_CRUMB_ROUNDS && (await statfs(this.mountPoint)).bavail > 0; round++) {
      await writeUntilFull(() => writeSynced(join(this.fillerDir, `crumb-${crumbs++}`), Buffer.alloc(1, 1)));
    }
    if (leaveBytes > 0) await truncate(big, Math.max(0, (await stat(big)).size - leaveBytes));
  }

  /** Gives back all the space fill() took. */
  async free(): Promise<void> {
    await rm(this.fillerDir, { recursive: true, force: true });
    await mkdir(this.fillerDir);
  }

  /** Unmounts (lazily if something still holds it), detaches the loop device, deletes the image. */
  async unmount(): Promise<void> {
    await command('umount', [this.mountPoint]).catch(() => command('umount', ['--lazy', this.mountPoint]));
    if (!this.image) return;
    await command('losetup', ['--detach', this.image.device]).catch(() => undefined);
    await rm(this.image.dir, { recursive: true, force: true });
  }
}

/** Makes an ext4 image of `sizeMiB`, attaches it to a loop device and mounts that at `mountPoint`. */
async function mountExt4(mountPoint: string, sizeMiB: number): Promise<LoopImage> {
  const dir = await mkdtemp(join(tmpdir(), 'podvisor-smallfs-'));
  const file = join(dir, 'disk.img');
  try {
    await (await open(file, 'w')).close();
    await truncate(file, sizeMiB * MIB);
    await command('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard', file]);
    const device = (await command('losetup', ['--find', '--show', file])).trim();
    try {
      await command('mount', ['-t', 'ext4', device, mountPoint]);
    } catch (error) {
      await command('losetup', ['--detach', device]);
      throw error;
    }
    return { dir, device };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Repeats `write` until it fails with ENOSPC. */
async function writeUntilFull(write: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      await write();
    } catch (error) {
      if (errorCode(error) === 'ENOSPC') return;
      throw error;
    }
  }
}

/** Writes a file through to the disk, so no space stays merely reserved for it. */
async function writeSynced(path: string, data: Buffer): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.write(data);
    await file.sync();
  } finally {
    await file.close();
  }
}
