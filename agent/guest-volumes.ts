import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type GuestVolume, VolumeKind } from '../proto/gen/agent';
import { invalid } from './agent-error';
import { runProgram } from './run-program';

const MOUNT = '/bin/mount';
// A pod volume's name, as Kubernetes allows it (a DNS label).
const VOLUME_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const KIND_DIRS: Partial<Record<VolumeKind, string>> = { [VolumeKind.VOLUME_KIND_EPHEMERAL]: 'ephemeral', [VolumeKind.VOLUME_KIND_LOCAL]: 'local' };

/**
 * The pod's volumes that live in the guest only: made when the first container that mounts
 * one is created, then shared by the pod's other containers; gone with the VM.
 */
export class GuestVolumes {
  private readonly made = new Set<string>();

  constructor(private readonly dir: string) {}

  async make(volumes: GuestVolume[]): Promise<void> {
    for (const { name, kind } of volumes) {
      if (!VOLUME_NAME.test(name)) throw invalid(`volume ${JSON.stringify(name)}: not a volume name`);
      const kindDir = KIND_DIRS[kind];
      if (kindDir === undefined) throw invalid(`volume ${name}: no kind of guest volume`);
      const path = join(this.dir, kindDir, name);
      if (this.made.has(path)) continue;
      await mkdir(path, { recursive: true });
      // As the kubelet makes an emptyDir: any user of the pod's containers may write to it.
      if (kind === VolumeKind.VOLUME_KIND_EPHEMERAL) await runProgram(MOUNT, ['-t', 'tmpfs', '-o', 'mode=0777', 'tmpfs', path]);
      else await chmod(path, 0o777);
      this.made.add(path);
    }
  }
}
