import { stat } from 'node:fs/promises';
import type { Device } from '../../proto/gen/cri-api-v1';
import { errorCode } from '../../system/error-code';
import { InvalidArgumentError } from '../../system/errors';
import type { OciDevice, OciDeviceRule } from './oci-types';

// Linux's dev_t: minor in bits 0-7 and 20-31, major in bits 8-19 and 32-43.
function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

export interface ContainerDevices {
  devices: OciDevice[];
  rules: OciDeviceRule[];
}

async function hostDevice(device: Device): Promise<{ node: OciDevice; rule: OciDeviceRule }> {
  const where = `device ${device.hostPath}`;
  const permissions = device.permissions || 'rwm';
  if (!/^[rwm]+$/.test(permissions)) throw new InvalidArgumentError(`${where}: permissions "${device.permissions}" are not a combination of r, w and m`);
  if (!device.containerPath.startsWith('/')) throw new InvalidArgumentError(`${where}: container_path "${device.containerPath}" must be absolute`);
  const stats = await stat(device.hostPath).catch((error: unknown) => {
    // ENOTDIR: a part of the path on the way is a file, as in /dev/null/x.
    if (['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) throw new InvalidArgumentError(`${where} does not exist`);
    throw error;
  });
  if (!stats.isCharacterDevice() && !stats.isBlockDevice()) throw new InvalidArgumentError(`${where} is not a device node`);
  const type = stats.isCharacterDevice() ? 'c' : 'b';
  const node: OciDevice = { path: device.containerPath, type, major: major(stats.rdev), minor: minor(stats.rdev), fileMode: stats.mode & 0o777, uid: stats.uid, gid: stats.gid };
  return { node, rule: { allow: true, type, major: node.major, minor: node.minor, access: permissions } };
}

/**
 * Device nodes the CRI asked for and the cgroup rules that let the container use them. Everything
 * else is denied first; runc adds its own short list of harmless devices (null, zero, tty...).
 * A privileged container may use every device; its /dev is still the private tmpfs, with only
 * the nodes asked for: we do not copy the host's /dev in.
 */
export async function containerDevices(devices: Device[], privileged: boolean): Promise<ContainerDevices> {
  const found = await Promise.all(devices.map(hostDevice));
  const base: OciDeviceRule = { allow: privileged, access: 'rwm' };
  return { devices: found.map((device) => device.node), rules: [base, ...(privileged ? [] : found.map((device) => device.rule))] };
}
