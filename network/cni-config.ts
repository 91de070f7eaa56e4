import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../system/errors';

/** One plugin's entry in a network config: its type plus whatever settings that plugin reads. */
export interface CniPluginConfig {
  type: string;
  [setting: string]: unknown;
}

/** A network config in list form; a single-plugin .conf is read as a list of one. */
export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConfig[];
  [setting: string]: unknown;
}

export interface CniNetwork {
  name: string;
  file: string;
  config: CniConfList;
}

export type CniReadiness = { ready: true; network: CniNetwork } | { ready: false; message: string };

// The extensions libcni loads, in the same roles: .conflist holds a plugin chain, .conf and
// .json a single plugin.
const EXTENSIONS = ['.conflist', '.conf', '.json'];

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasPluginType(value: unknown): value is CniPluginConfig {
  return isObject(value) && typeof value.type === 'string' && value.type !== '';
}

/**
 * A parsed network config in list form, or why it is not usable; `where` names it in the reason.
 * `list` says whether it is a .conflist (a plugin chain) or a single plugin's config.
 */
export function parseConfList(value: unknown, where: string, list: boolean): CniConfList | string {
  if (!isObject(value) || typeof value.name !== 'string' || value.name === '') return `${where}: no network name`;
  const { name, cniVersion } = value;
  if (list) {
    const plugins = value.plugins;
    if (!Array.isArray(plugins) || plugins.length === 0) return `${where}: no plugins`;
    if (!plugins.every(hasPluginType)) return `${where}: a plugin has no type`;
    if (typeof cniVersion !== 'string') return `${where}: no cniVersion`;
    return { ...value, name, cniVersion, plugins };
  }
  if (!hasPluginType(value)) return `${where}: no plugin type`;
  if (typeof cniVersion !== 'string') return `${where}: no cniVersion`;
  return { cniVersion, name, plugins: [value] };
}

/** The network a config file defines, or why it is not usable. */
function parseNetwork(file: string, text: string): CniNetwork | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `${file}: invalid JSON: ${errorMessage(error)}`;
  }
  const config = parseConfList(value, file, file.endsWith('.conflist'));
  return typeof config === 'string' ? config : { name: config.name, file, config };
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
