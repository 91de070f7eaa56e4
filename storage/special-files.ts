import { execFile } from 'node:child_process';
import { errorCode } from '../system/error-code';
import { randomBytes } from 'node:crypto';
import { lchown, link, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MKNOD_TIMEOUT_MS = 30_000;

export type SpecialFileType = 'character-device' | 'block-device' | 'fifo';

/**
 * Makes device nodes, FIFOs and whiteouts in one layer directory, with the mknod command (Node has no
 * mknod). Nodes are made with mode 0 and owned by root; callers set owner, then mode.
 */
export class SpecialFiles {
  private whiteoutDevice: string | undefined;

  constructor(
    private readonly dest: string,
    private readonly signal?: AbortSignal,
  ) {}

  /**
   * Makes a node at `path`, which must not exist. It is made under a plain temporary name in the layer
   * directory and renamed into place, because command arguments cannot carry names that are not UTF-8.
   */
  async make(path: Buffer, type: SpecialFileType, major: number, minor: number): Promise<void> {
    await rename(await this.mknod(type, major, minor), path);
  }

  /**
   * Makes `path`, which must not exist, an overlayfs whiteout: a 0:0 character device. All whiteouts are
   * hard links to one device, as overlayfs does itself, so a layer of many deletions costs one mknod.
   */
  async whiteout(path: Buffer): Promise<void> {
    this.whiteoutDevice ??= await this.newWhiteoutDevice();
    try {
      await link(this.whiteoutDevice, path);
    } catch (error) {
      if (errorCode(error) !== 'EMLINK') throw error;
      await unlink(this.whiteoutDevice);
      this.whiteoutDevice = await this.newWhiteoutDevice();
      await link(this.whiteoutDevice, path);
    }
  }

  /** Removes the shared whiteout device's temporary name, leaving only the whiteouts. */
  async finish(): Promise<void> {
    if (this.whiteoutDevice !== undefined) await unlink(this.whiteoutDevice);
    this.whiteoutDevice = undefined;
  }

  private async newWhiteoutDevice(): Promise<string> {
    const path = await this.mknod('character-device', 0, 0);
    // A setgid layer root would have given the device its group.
    await lchown(path, 0, 0);
    return path;
  }

  private async mknod(type: SpecialFileType, major: number, minor: number): Promise<string> {
    const path = join(this.dest, `.podvisor-mknod-${randomBytes(8).toString('hex')}`);
    const node = type === 'fifo' ? ['p'] : [type === 'character-device' ? 'c' : 'b', String(major), String(minor)];
    await run('mknod', ['-m', '0', '--', path, ...node], { timeout: MKNOD_TIMEOUT_MS, signal: this.signal });
    return path;
  }
}
