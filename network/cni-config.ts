import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../system/errors';

export interface CniNetwork {
  name: string;
  file: string;
}

export type CniReadiness = { ready: true; network: CniNetwork } | { ready: false; message: string };

// The extensions libcni loads, in the same roles: .conflist holds a plugin chain, .conf and
// .json a single plugin.
const EXTENSIONS = ['.conflist', '.conf', '.json'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasPluginType(value: unknown): boolean {
  return isObject(value) && typeof value.type === 'string' && value.type !== '';
}

/** The network a config file defines, or why it is not usable. */
function parseNetwork(file: string, text: string): CniNetwork | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `${file}: invalid JSON: ${errorMessage(error)}`;
  }
  if (!isObject(value) || typeof value.name !== 'string' || value.name === '') return `${file}: no network name`;
  if (file.endsWith('.conflist')) {
    if (!Array.isArray(value.plugins) || value.plugins.length === 0) return `${file}: no plugins`;
    if (!value.plugins.every(hasPluginType)) return `${file}: a plugin has no type`;
  } else if (!hasPluginType(value)) {
    return `${file}: no plugin type`;
  }
  return { name: value.name, file };
}

/**
 * Finds the network pods will join: the one named `wanted`, else the first valid config in
 * lexical order, as the kubelet's dockershim and CRI-O choose it.
 */
export async function findCniNetwork(dir: string, wanted: string): Promise<CniReadiness> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).filter((entry) => EXTENSIONS.some((ext) => entry.endsWith(ext))).sort();
  } catch (error) {
    return { ready: false, message: `cannot read CNI config directory ${dir}: ${errorMessage(error)}` };
  }
  const problems: string[] = [];
  for (const entry of entries) {
    const file = join(dir, entry);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push(`${file}: ${errorMessage(error)}`);
      continue;
    }
    const network = parseNetwork(file, text);
    if (typeof network === 'string') problems.push(network);
    else if (wanted === '' || network.name === wanted) return { ready: true, network };
  }
  const what = wanted === '' ? 'no valid CNI network config' : `no valid CNI config for network "${wanted}"`;
  const detail = problems.length > 0 ? ` (${problems.join('; ')})` : '';
  return { ready: false, message: `${what} in ${dir}${detail}` };
}
