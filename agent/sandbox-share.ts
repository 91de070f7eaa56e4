import { mkdir } from 'node:fs/promises';
import { runProgram } from './run-program';

const MOUNT = '/bin/mount';
const UMOUNT = '/bin/umount';

/**
 * The pod's shared directory, exported by the host over virtio-9p: the containers' root
 * filesystems and volumes, bound in by the host as it creates them. cache=mmap: nothing is
 * cached that the host may change behind the guest's back, yet programs can be mapped.
 */
export class SandboxShare {
  private mounted = false;

  constructor(
    private readonly tag: string,
    readonly path: string,
  ) {}

  async mount(): Promise<void> {
    if (this.mounted) return;
    await mkdir(this.path, { recursive: true, mode: 0o755 });
    await runProgram(MOUNT, ['-t', '9p', '-o', 'trans=virtio,version=9p2000.L,msize=262144,cache=mmap', this.tag, this.path]);
    this.mounted = true;
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    await runProgram(UMOUNT, ['-l', this.path]);
    this.mounted = false;
  }
}
