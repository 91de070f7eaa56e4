import { readKernelFile } from './kernel-files';

export interface MountEntry {
  /** major:minor of the mounted filesystem; two mounts of one cgroup hierarchy share it. */
  device: string;
  /** The directory of the filesystem that is mounted (not `/` for bind mounts of a subtree). */
  root: string;
  mountPoint: string;
  /** Per-mount options: rw, nosuid, nodev, noexec... */
  options: string[];
  fsType: string;
  superOptions: string[];
}

// The kernel writes space, tab, newline and backslash in paths as three-digit octal escapes.
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function parseLine(line: string): MountEntry | undefined {
  const [mountPart, fsPart] = line.split(' - ');
  if (fsPart === undefined) return undefined;
  const fields = mountPart.split(' ');
  const [fsType, , superOptions] = fsPart.split(' ');
  if (fields.length < 6 || fsType === undefined) return undefined;
  return {
    device: fields[2],
    root: unescape(fields[3]),
    mountPoint: unescape(fields[4]),
    options: fields[5].split(','),
    fsType,
    superOptions: (superOptions ?? '').split(','),
  };
}

/** The mounts of this process's mount namespace, in mount order. */
export async function readMountInfo(): Promise<MountEntry[]> {
  const text = await readKernelFile('/proc/self/mountinfo');
  return text
    .split('\n')
    .map(parseLine)
    .filter((entry): entry is MountEntry => entry !== undefined);
}
