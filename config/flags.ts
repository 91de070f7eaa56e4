// Command-line flags. Each option flag names one config key and overrides the file's value;
// the override goes through the same validation as the file, so errors name the key.
import { parseArgs } from 'node:util';
import { ConfigError, type Table } from './validate';

type FlagKind = 'string' | 'list' | 'integer';

interface OptionFlag {
  key: string;
  kind: FlagKind;
  help: string;
}

export const OPTION_FLAGS: Record<string, OptionFlag> = {
  socket: { key: 'socket', kind: 'string', help: 'gRPC unix socket the kubelet and crictl connect to' },
  root: { key: 'root', kind: 'string', help: 'persistent state: records, images, layers' },
  runroot: { key: 'runroot', kind: 'string', help: 'state that lives until reboot: locks, namespaces, bundles' },
  'cgroup-manager': { key: 'cgroup_manager', kind: 'string', help: 'cgroupfs | systemd' },
  'shutdown-timeout-seconds': { key: 'shutdown_timeout_seconds', kind: 'integer', help: 'how long SIGTERM waits for calls in flight' },
  'unclaimed-result-seconds': { key: 'unclaimed_result_seconds', kind: 'integer', help: 'how long a pod or container made for a client that gave up waits for its retry' },
  'log-level': { key: 'log.level', kind: 'string', help: 'error | warn | info | debug' },
  'log-format': { key: 'log.format', kind: 'string', help: 'text | json' },
  'cni-config-dir': { key: 'network.cni_config_dir', kind: 'string', help: 'directory of CNI network configs' },
  'cni-plugin-dirs': { key: 'network.cni_plugin_dirs', kind: 'list', help: 'comma-separated directories of CNI plugins' },
  'default-network': { key: 'network.default_network', kind: 'string', help: 'CNI network name to use (empty: first config)' },
  'registries-conf': { key: 'image.registries_conf', kind: 'string', help: 'containers-registries.conf(5) file' },
  'registries-conf-dir': { key: 'image.registries_conf_dir', kind: 'string', help: 'drop-in directory for registries.conf' },
  'default-runtime': { key: 'runtime.default_handler', kind: 'string', help: 'runtime handler for pods that name none' },
  'streaming-address': { key: 'streaming.address', kind: 'string', help: 'host:port of the exec/attach/port-forward server' },
  'metrics-address': { key: 'metrics.address', kind: 'string', help: 'host:port for Prometheus metrics (empty: off)' },
};

export interface CommandLine {
  command: 'serve' | 'config';
  configPath: string | undefined;
  overrides: Table;
  help: boolean;
  version: boolean;
}

function setKey(table: Table, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = table;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Table;
  }
  node[parts[parts.length - 1]] = value;
}

function flagValue(flag: string, spec: OptionFlag, text: string): unknown {
  switch (spec.kind) {
    case 'string':
      return text;
    case 'list':
      return text.split(',').filter((item) => item !== '');
    case 'integer':
      if (!/^\d+$/.test(text)) throw new ConfigError(spec.key, `--${flag} expects an integer, got "${text}"`);
      return Number(text);
  }
}

export function parseCommandLine(argv: string[]): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const flag of Object.keys(OPTION_FLAGS)) options[flag] = { type: 'string' };

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError('command line', (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'config')) {
    throw new ConfigError('command line', `unknown command "${positionals.join(' ')}" (the only command is "config")`);
  }

  const overrides: Table = {};
  for (const [flag, spec] of Object.entries(OPTION_FLAGS)) {
    const text = values[flag];
    if (typeof text === 'string') setKey(overrides, spec.key, flagValue(flag, spec, text));
  }
  const configPath = values.config;
  return {
    command: positionals[0] === 'config' ? 'config' : 'serve',
    configPath: typeof configPath === 'string' ? configPath : undefined,
    overrides,
    help: values.help === true,
    version: values.version === true,
  };
}

export function usage(): string {
  const lines = [
    'usage: podvisord [config] [--config FILE] [flags]',
    '',
    '  (no command)   serve CRI v1 on the configured socket',
    '  config         print the effective configuration as TOML and exit',
    '',
    '  -c, --config FILE   configuration file (default /etc/podvisor/podvisor.conf)',
    '  -h, --help          this text',
    '      --version       print the version',
  ];
  for (const [flag, spec] of Object.entries(OPTION_FLAGS)) {
    lines.push(`      --${flag} VALUE`.padEnd(40) + `${spec.help} [${spec.key}]`);
  }
  return lines.join('\n') + '\n';
}
