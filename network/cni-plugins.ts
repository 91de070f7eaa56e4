import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InternalError, PodvisorError } from '../system/errors';
import { isObject } from './cni-config';
import { runTool } from '../system/run-tool';

export type CniCommand = 'ADD' | 'DEL';

/** What the CNI spec passes a plugin in its environment, apart from the config on stdin. */
export interface PluginInvocation {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS: "KEY=VALUE;KEY=VALUE". */
  args: string;
  pluginDirs: string[];
  timeoutMs: number;
}

export interface CniInterface {
  name: string;
  mac?: string;
  /** The netns path for interfaces inside the pod; absent for host-side ones (bridge, veth). */
  sandbox?: string;
}

export interface CniResult {
  /** Addresses without prefix length, in the order the plugins gave them. */
  ips: string[];
  interfaces: CniInterface[];
}

// CNI error codes that mean the network config or the runtime's request is wrong rather than
// the plugin or the node failing: incompatible version, unsupported field, invalid environment
// variables, undecodable or invalid config.
const CONFIG_ERROR_CODES = new Set([1, 2, 4, 6, 7]);

/** The plugin binary for `type`, from the first directory that has it. */
export async function findPlugin(type: string, dirs: string[]): Promise<string> {
  // The type is joined to a directory: it must be a plain file name.
  if (type.includes('/') || type === '.' || type === '..') throw new FailedPreconditionError(`CNI plugin type "${type}" is not a file name`);
  for (const dir of dirs) {
    const path = join(dir, type);
    const executable = await access(path, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (executable) return path;
  }
  throw new FailedPreconditionError(`CNI plugin "${type}" not found in ${dirs.join(':')}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function pluginFailure(type: string, command: CniCommand, stdout: string, stderr: string, exitCode: number | null): PodvisorError {
  const reply = parseJson(stdout);
  const what = `CNI plugin ${type} ${command} failed`;
  if (isObject(reply) && typeof reply.msg === 'string') {
    const details = typeof reply.details === 'string' && reply.details !== '' ? ` (${reply.details})` : '';
    const message = `${what}: ${reply.msg}${details}`;
    return typeof reply.code === 'number' && CONFIG_ERROR_CODES.has(reply.code) ? new FailedPreconditionError(message) : new InternalError(message);
  }
  const output = stderr.trim() || stdout.trim() || `exit status ${exitCode ?? 'none (killed)'}`;
  return new InternalError(`${what}: ${output}`);
}

/**
 * Runs one plugin with `config` on stdin. Returns the result an ADD prints; a DEL prints none.
 * A plugin's error reply becomes a typed error with its message and details.
 */
export async function invokePlugin(config: Record<string, unknown> & { type: string }, invocation: PluginInvocation): Promise<unknown> {
  const binary = await findPlugin(config.type, invocation.pluginDirs);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: invocation.command,
    CNI_CONTAINERID: invocation.containerId,
    CNI_NETNS: invocation.netns,
    CNI_IFNAME: invocation.ifName,
    CNI_ARGS: invocation.args,
    CNI_PATH: invocation.pluginDirs.join(':'),
  };
  const outcome = await runTool(binary, [], {
    env,
    input: JSON.stringify(config),
    timeoutMs: invocation.timeoutMs,
    what: `CNI plugin ${config.type} ${invocation.command} for pod ${invocation.containerId}`,
  });
  if (outcome.exitCode !== 0) throw pluginFailure(config.type, invocation.command, outcome.stdout, outcome.stderr, outcome.exitCode);
  if (invocation.command === 'DEL') return undefined;
  const result = parseJson(outcome.stdout);
  if (!isObject(result)) throw new InternalError(`CNI plugin ${config.type} ADD printed no result`);
  return result;
}

function addressOf(entry: unknown): string | undefined {
  if (!isObject(entry) || typeof entry.address !== 'string') return undefined;
  return entry.address.split('/')[0];
}

function interfaceOf(entry: unknown): CniInterface | undefined {
  if (!isObject(entry) || typeof entry.name !== 'string') return undefined;
  const found: CniInterface = { name: entry.name };
  if (typeof entry.mac === 'string') found.mac = entry.mac;
  if (typeof entry.sandbox === 'string' && entry.sandbox !== '') found.sandbox = entry.sandbox;
  return found;
}

/** The addresses and interfaces of a CNI 0.3.x/0.4.0/1.0.0 result (they share this part). */
export function parseCniResult(result: unknown): CniResult {
  if (!isObject(result)) return { ips: [], interfaces: [] };
  const ips = Array.isArray(result.ips) ? result.ips.map(addressOf) : [];
  const interfaces = Array.isArray(result.interfaces) ? result.interfaces.map(interfaceOf) : [];
  return {
    ips: ips.filter((ip): ip is string => ip !== undefined && ip !== ''),
    interfaces: interfaces.filter((found): found is CniInterface => found !== undefined),
  };
}
