// The README's two commands run through here, so a fresh Debian 12 machine with only Node
// needs nothing else: `npm start` (daemon) and `npm test` (suite). Every step checks before
// it acts, so a second run on a machine already set up takes seconds.
//
// Plain Node with no dependencies: it runs before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGuestAssets } from './guest-assets.mjs';

const projectDir = dirname(dirname(fileURLToPath(import.meta.url)));

// What podvisord itself runs or hands work to (zstd and attr: layer unpacking; apparmor: loading
// the RuntimeDefault profile where AppArmor is on; gcc and libc6-dev: building the pod infra
// process and the stream relay; qemu-system-x86: VM pods, whose guest is made from busybox-static,
// tini and Debian's kernel, unpacked with xz-utils, its userland an image made by erofs-utils).
const DAEMON_PACKAGES = [
  'runc', 'crun', 'conmon', 'containernetworking-plugins', 'iproute2', 'iptables', 'util-linux', 'zstd', 'attr', 'apparmor', 'gcc', 'libc6-dev',
  'qemu-system-x86', 'busybox-static', 'tini', 'xz-utils', 'erofs-utils',
];

// What the tests run besides the daemon's own tools: a real registry to pull from, bcrypt
// htpasswd files and certificates for it, a static busybox to build test images from, and
// containers-common's seccomp.json (CRI-O's and Podman's default), a profile that must load.
const TEST_PACKAGES = ['docker-registry', 'apache2-utils', 'openssl', 'busybox-static', 'golang-github-containers-common'];

// What `npm run bench` runs besides the daemon's own tools: the peer runtime it compares
// against, and a registry holding a busybox image for both.
const BENCH_PACKAGES = ['containerd', 'docker-registry', 'busybox-static'];

// Config files installed for the operator on first start; never overwritten once there.
const INSTALLED_CONFIG = [
  ['conf/podvisor.conf', '/etc/podvisor/podvisor.conf'],
  ['conf/crictl.yaml', '/etc/crictl.yaml'],
];

function log(message) {
  process.stderr.write(`setup: ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: projectDir, timeout: 30 * 60 * 1000, ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

function missingDebianPackages(packages) {
  return packages.filter((name) => {
    const result = spawnSync('dpkg-query', ['-W', '-f', '${Status}', name], { encoding: 'utf8' });
    return result.status !== 0 || !result.stdout.includes('install ok installed');
  });
}

function ensureDebianPackages(packages) {
  const missing = missingDebianPackages(packages);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`Debian packages missing and not running as root: ${missing.join(' ')}`);
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], { env });
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
}

function sha256(paths) {
  const hash = createHash('sha256');
  for (const path of paths) hash.update(path).update(readFileSync(join(projectDir, path)));
  return hash.digest('hex');
}

// Installs exactly what package-lock.json pins, only when it changed since the last install.
// Not `npm ci`: this npm leaves other platforms' optional binaries (buf's, jest's resolver's)
// out of the lock file and then `npm ci` refuses that same lock file as out of sync.
function ensureNodeModules() {
  const stamp = join(projectDir, 'node_modules', '.podvisor-installed');
  const want = sha256(['package-lock.json']);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log('installing npm packages');
  run('npm', ['install', '--no-save', '--no-audit', '--no-fund']);
  writeFileSync(stamp, want);
}

// Regenerates proto/gen only when the contract or the generator settings changed.
function ensureProtoTypes() {
  const inputs = ['buf.gen.yaml', ...readdirSync(join(projectDir, 'proto')).filter((f) => f.endsWith('.proto')).map((f) => `proto/${f}`)];
  const stamp = join(projectDir, 'proto', 'gen', '.stamp');
  const want = sha256([...inputs, 'package-lock.json']);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  log('generating CRI types from proto/');
  run(join(projectDir, 'node_modules', '.bin', 'buf'), ['generate']);
  writeFileSync(stamp, want);
}

// The C helpers (the pod infra process, the stream relay) are linked statically so they run
// whatever the host's libc; each is rebuilt only when its source is newer than the binary.
const C_HELPERS = [
  ['oci/conmon/pause/pause.c', 'dist/pause'],
  ['oci/conmon/relay/stream-relay.c', 'dist/stream-relay'],
  // In dist/agent, so the guest gets it with the agent.
  ['agent/pty/pty-exec.c', 'dist/agent/pty-exec'],
];

function ensureCHelpers() {
  for (const [sourcePath, binaryPath] of C_HELPERS) {
    const source = join(projectDir, sourcePath);
    const binary = join(projectDir, binaryPath);
    if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) continue;
    log(`building ${binaryPath}`);
    mkdirSync(dirname(binary), { recursive: true });
    run('cc', ['-Os', '-static', '-Wall', '-o', binary, source]);
  }
}

const DAEMON_SCRIPT = join(projectDir, 'dist', 'bin', 'podvisord.js');

function build() {
  ensureNodeModules();
  ensureProtoTypes();
  run(join(projectDir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
  // An executable, so its first line gives node the daemon's flags.
  chmodSync(DAEMON_SCRIPT, 0o755);
  ensureCHelpers();
  ensureGuestAssets(projectDir, log);
}

// The daemon as a child of this process, so it gets its own node flags. SIGTERM and SIGHUP
// (reload) sent to this process are passed on; Ctrl-C reaches the daemon from the terminal
// itself, and only waits for its exit here.
function runDaemon(args) {
  const daemon = spawn(DAEMON_SCRIPT, args, { stdio: 'inherit' });
  process.on('SIGINT', () => undefined);
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => daemon.kill(signal));
  return new Promise((resolve) => daemon.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

// The pod network installed on first start, in podvisord's default CNI config directory.
const DEFAULT_CNI_NETWORK = ['conf/cni/10-podvisor.conflist', '/etc/cni/net.d'];

// The extensions CNI loads configs from (network/cni-config.ts reads the same ones).
const CNI_CONFIG_EXTENSIONS = ['.conflist', '.conf', '.json'];

function installConfigFiles() {
  for (const [source, target] of INSTALLED_CONFIG) {
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(projectDir, source), target);
    log(`installed ${target}`);
  }
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

// crun (Debian's 1.8) refuses to make any cgroup on a hybrid host whose v2 hierarchy holds a
// controller. systemd's hybrid layout mounts every controller as v1 and leaves none there; a
// host set up otherwise (here hugetlb was left on v2) gets the missing v1 mounts, which is the
// same layout and makes no difference to runc.
function mountV2ControllersAsV1() {
  const root = '/sys/fs/cgroup';
  const unified = join(root, 'unified');
  if (statfsSync(root).type === CGROUP2_SUPER_MAGIC || !existsSync(unified) || statfsSync(unified).type !== CGROUP2_SUPER_MAGIC) return;
  const controllers = readFileSync(join(unified, 'cgroup.controllers'), 'utf8').split(/\s+/).filter((name) => name !== '');
  if (controllers.length === 0) return;
  if (process.getuid?.() !== 0) {
    log(`not root: cgroup controllers ${controllers.join(' ')} stay on v2, so the crun handler will not be ready`);
    return;
  }
  for (const controller of controllers) {
    log(`mounting the ${controller} cgroup controller as a v1 hierarchy (crun needs none left on v2)`);
    mkdirSync(join(root, controller), { recursive: true });
    run('mount', ['-t', 'cgroup', '-o', controller, 'cgroup', join(root, controller)]);
  }
}

// Only into a directory with no network config at all: any config there, ours or the
// operator's (Calico, Flannel, ...), means the pod network is already someone's choice.
function installDefaultCniNetwork() {
  const [source, dir] = DEFAULT_CNI_NETWORK;
  const present = existsSync(dir) && readdirSync(dir).some((entry) => CNI_CONFIG_EXTENSIONS.some((ext) => entry.endsWith(ext)));
  if (present) return;
  mkdirSync(dir, { recursive: true });
  const target = join(dir, basename(source));
  copyFileSync(join(projectDir, source), target);
  log(`installed ${target}`);
}

// Jest's own summary is not a line CI reads, so the totals are printed once more plainly.
function runTests(extraArgs) {
  const resultsFile = join(projectDir, 'dist', 'jest-results.json');
  const result = spawnSync(
    join(projectDir, 'node_modules', '.bin', 'jest'),
    ['--json', '--outputFile', resultsFile, ...extraArgs],
    { stdio: 'inherit', cwd: projectDir },
  );
  if (existsSync(resultsFile) && statSync(resultsFile).size > 0) {
    const totals = JSON.parse(readFileSync(resultsFile, 'utf8'));
    const skipped = totals.numPendingTests + totals.numTodoTests;
    process.stdout.write(`jest: ${totals.numPassedTests} passed, ${totals.numFailedTests} failed, ${skipped} skipped\n`);
  }
  return result.status ?? 1;
}

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  switch (mode) {
    case 'build':
      build();
      return 0;
    case 'start': {
      ensureDebianPackages(DAEMON_PACKAGES);
      mountV2ControllersAsV1();
      build();
      installConfigFiles();
      installDefaultCniNetwork();
      return runDaemon(rest);
    }
    case 'test':
      ensureDebianPackages([...DAEMON_PACKAGES, ...TEST_PACKAGES]);
      mountV2ControllersAsV1();
      build();
      return runTests(rest);
    case 'bench': {
      ensureDebianPackages([...DAEMON_PACKAGES, ...BENCH_PACKAGES]);
      build();
      const { main: bench } = await import(join(projectDir, 'dist', 'bench', 'cli.js'));
      return bench(rest);
    }
    default:
      log('usage: node scripts/setup.mjs build | start [-- podvisord flags] | test [-- jest args] | bench [-- bench flags]');
      return 2;
  }
}

// Exits explicitly: after the daemon stops, nothing else should keep the process alive.
main().then(
  (code) => process.exit(code),
  (error) => {
    log(error.message);
    process.exit(1);
  },
);
