import type { ContainerConfig } from '../../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../../system/errors';
import type { ImageConfigJson } from './image-config';

// What a shell would give a process that found no PATH in its environment; Docker and
// containerd use the same value so images that rely on it behave alike everywhere.
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The command line, with Docker's rules: the CRI command replaces the image's entrypoint and
 * discards its cmd; the CRI args replace only the cmd.
 */
export function processArgs(config: ContainerConfig, image: ImageConfigJson): string[] {
  const entrypoint = config.command.length > 0 ? config.command : (image.config?.Entrypoint ?? []);
  const cmd = config.args.length > 0 ? config.args : config.command.length > 0 ? [] : (image.config?.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new InvalidArgumentError('no command: the container config has no command or args and the image no Entrypoint or Cmd');
  return args;
}

function nameOf(entry: string): string {
  const equals = entry.indexOf('=');
  return equals === -1 ? entry : entry.slice(0, equals);
}

/**
 * HOSTNAME first, then the image's variables, then the CRI's, a later one replacing an earlier
 * one of the same name where it stood; PATH is supplied when nobody set one.
 */
export function processEnv(config: ContainerConfig, image: ImageConfigJson, hostname: string): string[] {
  const env = new Map<string, string>();
  const entries = [`HOSTNAME=${hostname}`, ...(image.config?.Env ?? []), ...config.envs.map((kv) => `${kv.key}=${kv.value.toString('utf8')}`)];
  for (const entry of entries) env.set(nameOf(entry), entry);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  return [...env.values()];
}

export function processCwd(config: ContainerConfig, image: ImageConfigJson): string {
  return config.workingDir || image.config?.WorkingDir || '/';
}
