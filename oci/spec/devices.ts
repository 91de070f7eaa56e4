import { stat } from 'node:fs/promises';
import type { Device } from '../../proto/gen/cri-api-v1';
import { errorCode } from '../../system/error-code';
import { InvalidArgumentError } from '../../system/errors';
import { deviceNodeOf, deviceNodesBelow } from '../../system/device-nodes';
import type { OciDevice, OciDeviceRule } from './oci-types';

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
  const node = deviceNodeOf(device.containerPath, stats);
  if (node === undefined) throw new InvalidArgumentError(`${where} is not a device node`);
  return { node, rule: { allow: true, type: node.type, major: node.major, minor: node.minor, access: permissions } };
}

/**
 * Device nodes the CRI asked for and the cgroup rules that let the container use them. Everything
 * else is denied first; runc adds its own short list of harmless devices (null, zero, tty...).
 * A privileged container may use every device and, as with containerd and CRI-O, finds every
 * device node of the host's /dev in its own (a node asked for at the same path wins).
 */
export async function containerDevices(devices: Device[], privileged: boolean): Promise<ContainerDevices> {
  const [found, host] = await Promise.all([Promise.all(devices.map(hostDevice)), privileged ? deviceNodesBelow() : []]);
  const asked = new Set(found.map((device) => device.node.path));
  const hostNodes = host.filter((node) => !asked.has(node.path));
  const base: OciDeviceRule = { allow: privileged, access: 'rwm' };
  return { devices: [...found.map((device) => device.node), ...hostNodes], rules: [base, ...(privileged ? [] : found.map((device) => device.rule))] };
}

/** Whether the cgroup rules let the container use every device: a privileged container's. */
export function allowsEveryDevice(rules: readonly OciDeviceRule[]): boolean {
  return rules.some((rule) => rule.allow && rule.type === undefined && rule.major === undefined && rule.minor === undefined && rule.access === 'rwm');
}
