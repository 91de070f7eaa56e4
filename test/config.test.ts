import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'smol-toml';
import { VM_HANDLER_DEFAULTS, defaultConfig } from '../config/config';
import { OPTION_FLAGS, parseCommandLine } from '../config/flags';
import { loadConfig } from '../config/load';
import { ConfigError, validateConfig, type Table } from '../config/validate';

const PROJECT = join(__dirname, '..', '..');
const PODVISORD = join(PROJECT, 'dist', 'bin', 'podvisord.js');
const run = promisify(execFile);

describe('config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-config-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function file(text: string): Promise<string> {
    const path = join(dir, 'podvisor.conf');
    await writeFile(path, text);
    return path;
  }

  test('conf/podvisor.conf documents every option at exactly its default', async () => {
    const shipped = parse(await readFile(join(PROJECT, 'conf', 'podvisor.conf'), 'utf8'));
    // The guest's files default to where the build put them, which no shipped file can name.
    const { kernel_path: _kernel, initrd_path: _initrd, guest_root: _root, ...vm } = VM_HANDLER_DEFAULTS;
    const defaults = defaultConfig();
    expect(shipped).toEqual({ ...defaults, runtime: { ...defaults.runtime, handlers: { ...defaults.runtime.handlers, vm } } });
    expect(validateConfig(shipped)).toEqual(defaults);
  });

  test('an empty file gives the documented defaults', () => {
    const config = validateConfig({});
    expect(config.socket).toBe('/run/podvisor/podvisor.sock');
    expect(config.root).toBe('/var/lib/podvisor');
    expect(config.runroot).toBe('/run/podvisor');
    expect(config.network.cni_config_dir).toBe('/etc/cni/net.d');
    expect(config.network.cni_plugin_dirs).toEqual(['/usr/lib/cni', '/opt/cni/bin']);
    expect(config.image.registries_conf).toBe('/etc/containers/registries.conf');
    expect(config.runtime.handlers.runc).toEqual({ type: 'oci', runtime_path: '/usr/bin/runc', monitor_path: '/usr/bin/conmon', runtime_timeout_seconds: 60 });
    expect(config.runtime.handlers.crun).toEqual({ type: 'oci', runtime_path: '/usr/bin/crun', monitor_path: '/usr/bin/conmon', runtime_timeout_seconds: 60 });
  });

  test('every flag names a key that exists, and overrides the file', async () => {
    const defaults = defaultConfig() as unknown as Table;
    for (const spec of Object.values(OPTION_FLAGS)) {
      const value = spec.key.split('.').reduce<unknown>((node, part) => (node as Table)[part], defaults);
      expect(value).toBeDefined();
    }
    const path = await file('[log]\nlevel = "warn"\nformat = "json"\n');
    const cli = parseCommandLine(['--config', path, '--log-level', 'debug', '--cni-plugin-dirs', '/a,/b', '--shutdown-timeout-seconds', '3']);
    const { config, file: read } = await loadConfig(cli.configPath, cli.overrides);
    expect(read).toBe(path);
    expect(config.log).toEqual({ level: 'debug', format: 'json' });
    expect(config.network.cni_plugin_dirs).toEqual(['/a', '/b']);
    expect(config.shutdown_timeout_seconds).toBe(3);
  });

  test('a handlers table in the file replaces the built-in one', () => {
    const config = validateConfig({
      runtime: {
        default_handler: 'kata',
        handlers: {
          kata: { type: 'vm', kernel_path: '/boot/vmlinux-6.1', accelerator: 'tcg', vcpus: 2, kernel_params: ['quiet', 'mitigations=off'] },
          crun: { type: 'oci', runtime_path: '/usr/bin/crun' },
        },
      },
    });
    expect(config.runtime.handlers).toEqual({
      kata: { ...VM_HANDLER_DEFAULTS, kernel_path: '/boot/vmlinux-6.1', accelerator: 'tcg', vcpus: 2, kernel_params: ['quiet', 'mitigations=off'] },
      crun: { type: 'oci', runtime_path: '/usr/bin/crun', monitor_path: '/usr/bin/conmon', runtime_timeout_seconds: 60 },
    });
  });

  test.each<[string, Table, string]>([
    ['an unknown key', { network: { cni_dir: '/x' } }, 'network.cni_dir: unknown option'],
    ['a wrong type', { shutdown_timeout_seconds: 'ten' }, 'shutdown_timeout_seconds: expected an integer from 0 to 3600, got string "ten"'],
    ['a bad enum value', { log: { level: 'loud' } }, 'log.level: expected one of error, warn, info, debug, got "loud"'],
    [
      'a VM accelerator QEMU does not have',
      { runtime: { handlers: { vm: { type: 'vm', accelerator: 'hvf' } } } },
      'runtime.handlers.vm.accelerator: expected one of auto, kvm, tcg, got "hvf"',
    ],
    [
      'a kernel parameter with a space',
      { runtime: { handlers: { vm: { type: 'vm', kernel_params: ['console=ttyS0 quiet'] } } } },
      'runtime.handlers.vm.kernel_params[0]: expected one kernel parameter (key or key=value, no spaces), got "console=ttyS0 quiet"',
    ],
    [
      'warm clones without a template',
      { runtime: { handlers: { vm: { type: 'vm', template: false, warm_clones: 2 } } } },
      'runtime.handlers.vm.warm_clones: warm clones are clones of the template: set template = true or warm_clones = 0',
    ],
    ['a template switch that is no boolean', { runtime: { handlers: { vm: { type: 'vm', template: 'yes' } } } }, 'runtime.handlers.vm.template: expected true or false, got string "yes"'],
    ['a relative path', { root: 'var/lib/podvisor' }, 'root: expected an absolute path, got "var/lib/podvisor"'],
    ['a socket path too long', { socket: '/' + 'x'.repeat(120) }, 'socket: path is 121 bytes, a unix socket allows at most 107'],
    ['a cgroup manager', { cgroup_manager: 'cgroupv3' }, 'cgroup_manager: expected one of cgroupfs, systemd, got "cgroupv3"'],
    ['a bad plugin dir', { network: { cni_plugin_dirs: ['/ok', 'rel'] } }, 'network.cni_plugin_dirs[1]: expected an absolute path, got "rel"'],
    ['no bound on CNI plugins', { network: { plugin_timeout_seconds: 0 } }, 'network.plugin_timeout_seconds: expected an integer from 1 to 3600, got number 0'],
    [
      'no bound on the OCI runtime',
      { runtime: { handlers: { runc: { type: 'oci', runtime_path: '/r', runtime_timeout_seconds: 0 } } } },
      'runtime.handlers.runc.runtime_timeout_seconds: expected an integer from 1 to 3600, got number 0',
    ],
    ['a handler without a type', { runtime: { handlers: { runc: { runtime_path: '/usr/bin/runc' } } } }, 'runtime.handlers.runc.type: required: one of oci, vm'],
    ['an oci handler without its runtime', { runtime: { handlers: { runc: { type: 'oci' } } } }, 'runtime.handlers.runc.runtime_path: required for an oci handler'],
    ['an unknown handler key', { runtime: { handlers: { runc: { type: 'oci', runtime_path: '/r', qemu_path: '/q' } } } }, 'runtime.handlers.runc.qemu_path: unknown option'],
    ['a handler name that is no DNS label', { runtime: { handlers: { Run_C: { type: 'oci', runtime_path: '/r' } } } }, 'runtime.handlers.Run_C: handler names must be DNS labels'],
    ['an unconfigured default handler', { runtime: { default_handler: 'kata' } }, 'runtime.default_handler: "kata" is not a configured handler (configured: runc, crun, vm)'],
    ['a bad streaming address', { streaming: { address: 'localhost' } }, 'streaming.address: expected host:port'],
    ['a TLS certificate without its key', { streaming: { tls_cert_file: '/etc/podvisor/tls.crt' } }, 'streaming.tls_key_file: tls_cert_file and tls_key_file go together'],
    ['a TLS key without its certificate', { streaming: { tls_key_file: '/etc/podvisor/tls.key' } }, 'streaming.tls_cert_file: tls_cert_file and tls_key_file go together'],
    ['a relative TLS certificate path', { streaming: { tls_cert_file: 'tls.crt', tls_key_file: '/k' } }, 'streaming.tls_cert_file: expected an absolute path, got "tls.crt"'],
    ['a port out of range', { metrics: { address: '127.0.0.1:70000' } }, 'metrics.address: expected host:port'],
    ['an unknown default capability', { container: { default_capabilities: ['CHOWN', 'CAP_KILL'] } }, 'container.default_capabilities[1]: expected a capability name without CAP_ (e.g. NET_BIND_SERVICE), got "CAP_KILL"'],
    ['an AppArmor profile name with a space', { container: { apparmor_profile: 'my profile' } }, 'container.apparmor_profile: expected a profile name'],
    ['root equal to runroot', { root: '/var/lib/p', runroot: '/var/lib/p' }, 'runroot: must differ from root'],
  ])('%s is refused, naming the key', (_what, raw, message) => {
    expect(() => validateConfig(raw)).toThrow(ConfigError);
    expect(() => validateConfig(raw)).toThrow(message);
  });

  test('a streaming certificate and key are taken together', () => {
    const config = validateConfig({ streaming: { tls_cert_file: '/etc/podvisor/tls.crt', tls_key_file: '/etc/podvisor/tls.key' } });
    expect(config.streaming).toEqual({ address: '127.0.0.1:0', tls_cert_file: '/etc/podvisor/tls.crt', tls_key_file: '/etc/podvisor/tls.key' });
  });

  test('IPv6 and wildcard addresses are accepted', () => {
    expect(validateConfig({ streaming: { address: '[::1]:10010' }, metrics: { address: '0.0.0.0:9090' } }).streaming.address).toBe('[::1]:10010');
  });

  test('errors from a file name the file and the key; bad TOML and a missing named file are refused', async () => {
    await expect(loadConfig(await file('[log]\nlevel = 3\n'), {})).rejects.toThrow(`${join(dir, 'podvisor.conf')}: log.level: expected a string, got number 3`);
    await expect(loadConfig(await file('socket = \n'), {})).rejects.toThrow('is not valid TOML');
    await expect(loadConfig(join(dir, 'absent.conf'), {})).rejects.toThrow(`cannot read ${join(dir, 'absent.conf')}`);
  });

  test('the command line refuses unknown flags and commands', () => {
    expect(() => parseCommandLine(['--sockett', '/x'])).toThrow(ConfigError);
    expect(() => parseCommandLine(['serve-now'])).toThrow('unknown command "serve-now"');
    expect(() => parseCommandLine(['--shutdown-timeout-seconds', '5s'])).toThrow('--shutdown-timeout-seconds expects an integer, got "5s"');
  });

  test('`podvisord config` prints the effective config as TOML that reads back the same', async () => {
    const path = await file('cgroup_manager = "systemd"\n[network]\ndefault_network = "pods"\n');
    const { stdout } = await run(process.execPath, [PODVISORD, 'config', '--config', path, '--log-format', 'json']);
    const printed = parse(stdout);
    expect(printed).toMatchObject({ cgroup_manager: 'systemd', log: { format: 'json' }, network: { default_network: 'pods' } });
    const effective = await loadConfig(path, { log: { format: 'json' } });
    expect(validateConfig(printed)).toEqual(effective.config);
  });

  test('`podvisord` with a bad value exits 2 with a message naming the key', async () => {
    const path = await file('[runtime]\ndefault_handler = "nope"\n');
    const failure = run(process.execPath, [PODVISORD, 'config', '--config', path]);
    await expect(failure).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('runtime.default_handler: "nope" is not a configured handler') });
  });
});
