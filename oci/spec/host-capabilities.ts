import { readFile } from 'node:fs/promises';
import { ALL_CAPABILITIES } from './capabilities';

let cached: Promise<string[]> | undefined;

/**
 * The capabilities in this process's bounding set (the CapBnd mask in /proc/self/status):
 * all a container started by us can ever get. Read once: it cannot grow while we run.
 */
export function hostCapabilities(): Promise<string[]> {
  cached ??= readFile('/proc/self/status', 'utf8').then((status) => {
    const mask = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
    return ALL_CAPABILITIES.filter((_name, bit) => (mask >> BigInt(bit)) & 1n);
  });
  return cached;
}
