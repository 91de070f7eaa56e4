import { readFile } from 'node:fs/promises';
import { ALL_CAPABILITIES } from '../../system/linux-capabilities';

const CAP_SYS_RESOURCE = ALL_CAPABILITIES.indexOf('CAP_SYS_RESOURCE');
const MIN_OOM_SCORE_ADJ = -1000;

let status: Promise<string> | undefined;
let bounding: Promise<string[]> | undefined;
let oomFloor: Promise<number> | undefined;

// Read once: a process's capability sets cannot grow while it runs.
function ownStatus(): Promise<string> {
  status ??= readFile('/proc/self/status', 'utf8');
  return status;
}

function mask(text: string, field: string): bigint {
  return BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(text)?.[1] ?? '0'}`);
}

/** The capabilities in this process's bounding set: all a container started by us can ever get. */
export function hostCapabilities(): Promise<string[]> {
  bounding ??= ownStatus().then((text) => {
    const bits = mask(text, 'CapBnd');
    return ALL_CAPABILITIES.filter((_name, bit) => (bits >> BigInt(bit)) & 1n);
  });
  return bounding;
}

/**
 * The lowest oom_score_adj a container may be given. Without CAP_SYS_RESOURCE the kernel lets
 * a process (and runc, our child) only raise its score above our own, so asking for less would
 * fail the container's start; with it, anything goes.
 */
export function oomScoreAdjFloor(): Promise<number> {
  oomFloor ??= ownStatus().then(async (text) => {
    if ((mask(text, 'CapEff') >> BigInt(CAP_SYS_RESOURCE)) & 1n) return MIN_OOM_SCORE_ADJ;
    return Number.parseInt(await readFile('/proc/self/oom_score_adj', 'utf8'), 10) || 0;
  });
  return oomFloor;
}
