// The vm handler's guest, made from Debian's packages and this project's files, never
// downloaded from anywhere else (run by setup.mjs's build):
//
//   dist/guest/vmlinux        Debian's kernel, uncompressed so QEMU boots it through PVH with no
//                             decompression (~3 s of XZ under TCG saved per boot), with no
//                             zeros stored at the end of its segments
//   dist/guest/initramfs.img  busybox, the kernel modules the guest needs, and /init
//   dist/guest/root/          the guest's userland: node and runc with their libraries, tini,
//                             our pause and the agent
//   dist/guest/root.erofs     root/ as a read-only EROFS image, every VM's disk: a block device,
//                             unlike a 9p share, lets a booted VM be saved and cloned (QEMU
//                             refuses to migrate a VM with a 9p share mounted)
//
// Debian's kernel package is fetched with apt-get download and unpacked, never installed; what
// the guest needs of it is cached under /var/cache/podvisor/guest-kernel/<version> and redone
// only when Debian's version changes. The initramfs is rebuilt only when its inputs change;
// root/ is brought up to date file by file, and its image remade when a file changed.
//
// Plain Node with no dependencies, like setup.mjs. Synchronous: this is a build step.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

const KERNEL_CACHE = '/var/cache/podvisor/guest-kernel';
const KERNEL_META_PACKAGE = 'linux-image-amd64';
// What the guest loads, each after what it depends on:
// the virtio PCI transport, the agent's serial port, the guest root's disk and filesystem (with
// the crc32c that erofs's libcrc32c asks for by name, not as a dependency), 9p
// for the pod's shared directory, the NIC,
// and overlay for containers that stack their own layers. The list is completed from each
// module's own dependencies.
const GUEST_MODULES = ['virtio_pci', 'virtio_console', 'virtio_blk', 'crc32c_generic', 'erofs', '9pnet_virtio', '9p', 'virtio_net', 'overlay'];
// Loaded by the guest kernel when a container asks for them (a bridge, iptables rules, a veth
// pair, traffic shaping), through busybox modprobe: they cost nothing at boot, and they are in
// the shared guest root, not in each VM's memory.
const ON_DEMAND_MODULES = [
  'bridge', 'br_netfilter', 'veth', 'dummy', 'tun', 'macvlan', 'ipvlan', 'vxlan',
  'ip_tables', 'iptable_filter', 'iptable_nat', 'iptable_mangle', 'iptable_raw',
  'ip6_tables', 'ip6table_filter', 'ip6table_nat', 'ip6table_mangle',
  'nf_tables', 'nft_compat', 'nft_chain_nat', 'nft_ct', 'nft_masq', 'nft_nat', 'nft_redir', 'nf_conntrack_netlink',
  'xt_REDIRECT', 'xt_MASQUERADE', 'xt_conntrack', 'xt_owner', 'xt_mark', 'xt_comment', 'xt_multiport', 'xt_addrtype', 'xt_tcpudp',
  'sch_htb', 'sch_netem', 'sch_ingress', 'cls_u32', 'cls_bpf', 'act_mirred',
];
// What a cached kernel was unpacked with: a change in either list redoes it.
const MODULE_LISTS = `${GUEST_MODULES.join(' ')}\n${ON_DEMAND_MODULES.join(' ')}\n`;
const BUSYBOX = '/bin/busybox';
const TINI = '/usr/bin/tini-static';
const RUNC = '/usr/bin/runc';
const LIB_DIR = 'lib/x86_64-linux-gnu';
const LOADER = 'ld-linux-x86-64.so.2';
// The agent's files, at the same paths relative to the project as in the guest's app/ folder,
// so the compiled agent's requires resolve there as they do here.
const AGENT_FILES = ['dist/agent', 'dist/proto/gen/agent.js', 'dist/system/wait-until.js', 'dist/system/resend-when-caught.js', 'dist/system/device-nodes.js', 'dist/system/hostname.js', 'node_modules/@bufbuild/protobuf'];
const TOOL_TIMEOUT_MS = 10 * 60 * 1000;
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

function tool(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024, timeout: TOOL_TIMEOUT_MS, ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${result.stderr.toString().trim()}`);
  return result.stdout;
}

/**
 * The real kernel package linux-image-amd64 points at now, and its version: Debian's meta
 * package pins it ("Depends: linux-image-6.1.0-N-amd64 (= V)"), so one apt-cache call (about a
 * second where apt keeps no binary cache) usually answers both.
 */
function currentKernelPackage() {
  const meta = tool('apt-cache', ['show', '--no-all-versions', KERNEL_META_PACKAGE]).toString();
  const [, name, pinned] = /^Depends:.*?\b(linux-image-[^\s,]+)(?: \(= ([^)]+)\))?/m.exec(meta) ?? [];
  if (!name) throw new Error(`apt-cache names no kernel package for ${KERNEL_META_PACKAGE}`);
  if (pinned) return { name, version: pinned };
  const policy = tool('apt-cache', ['policy', name]).toString();
  const version = /Candidate: (\S+)/.exec(policy)?.[1];
  if (!version || version === '(none)') throw new Error(`apt has no version of ${name}`);
  return { name, version };
}

/** The uncompressed kernel inside a vmlinuz: its XZ stream, decompressed. */
function extractVmlinux(vmlinuz) {
  const image = readFileSync(vmlinuz);
  const start = image.indexOf(XZ_MAGIC);
  if (start < 0) throw new Error(`${vmlinuz} holds no XZ-compressed kernel`);
  const elf = tool('xz', ['-dc', '--single-stream'], { input: image.subarray(start) });
  if (elf.subarray(0, 4).toString('latin1') !== '\x7fELF') throw new Error(`${vmlinuz}: its XZ stream is not an ELF kernel`);
  return elf;
}

// Module file names Debian has used: plain, or XZ-compressed (busybox insmod reads no XZ).
const MODULE_SUFFIXES = ['.ko', '.ko.xz'];

/** A module's ELF object, decompressed if need be. */
function readModule(file) {
  return file.endsWith('.xz') ? tool('xz', ['-dc', file]) : readFileSync(file);
}

/** The modules a module names in its .modinfo section ("depends=a,b"), as modinfo -F depends reads it. */
function moduleDepends(data) {
  const start = data.indexOf('\0depends=');
  if (start < 0) return [];
  const value = data.subarray(start + '\0depends='.length, data.indexOf(0, start + 1)).toString();
  return value.split(',').filter((name) => name !== '');
}

/** The wanted modules and those they depend on, in load order (dependencies first), each with its object. */
function moduleLoadOrder(modulesDir, wanted) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const suffix = MODULE_SUFFIXES.find((ending) => entry.name.endsWith(ending));
        if (suffix) files.set(entry.name.slice(0, -suffix.length).replace(/-/g, '_'), path);
      }
    }
  };
  walk(modulesDir);
  const seen = new Set();
  const modules = [];
  const visit = (name) => {
    const key = name.replace(/-/g, '_');
    const file = files.get(key);
    // Not a module (built into this kernel), or placed already.
    if (!file || seen.has(key)) return;
    seen.add(key);
    const data = readModule(file);
    for (const dependency of moduleDepends(data)) visit(dependency);
    modules.push({ name: key, data });
  };
  wanted.forEach(visit);
  return modules;
}

/** Fetches and unpacks Debian's kernel into the cache, once per version; returns its cache directory. */
function ensureKernel(log) {
  let kernel;
  try {
    kernel = currentKernelPackage();
  } catch (error) {
    // Offline with a kernel cached already: use the one fetched last (version strings do not
    // sort as text).
    const cached = existsSync(KERNEL_CACHE) ? readdirSync(KERNEL_CACHE).map((entry) => join(KERNEL_CACHE, entry, 'vmlinux')).filter((path) => existsSync(path)) : [];
    if (cached.length === 0) throw error;
    const newest = cached.reduce((a, b) => (statSync(a).mtimeMs >= statSync(b).mtimeMs ? a : b));
    return dirname(newest);
  }
  const dir = join(KERNEL_CACHE, kernel.version);
  const listFile = join(dir, 'module-lists');
  if (existsSync(join(dir, 'vmlinux')) && existsSync(listFile) && readFileSync(listFile, 'utf8') === MODULE_LISTS) return dir;
  log(`fetching and unpacking Debian's ${kernel.name} ${kernel.version} for VM guests`);
  const work = `${dir}.tmp`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const download = () => tool('apt-get', ['download', `${kernel.name}=${kernel.version}`], { cwd: work });
  try {
    download();
  } catch {
    // The package lists may be older than the mirror: refresh them once.
    tool('apt-get', ['update', '-q']);
    download();
  }
  const deb = readdirSync(work).find((entry) => entry.endsWith('.deb'));
  tool('dpkg-deb', ['-x', join(work, deb), join(work, 'unpacked')]);
  const boot = join(work, 'unpacked', 'boot');
  const vmlinuz = readdirSync(boot).find((entry) => entry.startsWith('vmlinuz-'));
  const release = vmlinuz.slice('vmlinuz-'.length);
  mkdirSync(join(work, 'modules'));
  const modules = moduleLoadOrder(join(work, 'unpacked', 'lib', 'modules', release), GUEST_MODULES);
  for (const { name, data } of modules) writeFileSync(join(work, 'modules', `${name}.ko`), data);
  writeFileSync(join(work, 'modules', 'order'), `${modules.map(({ name }) => name).join('\n')}\n`);
  // The on-demand ones as a module tree of their own, with the modules.dep and modules.alias
  // that modprobe reads (busybox's depmod writes them).
  const onDemand = join(work, 'kmod', 'lib', 'modules', release);
  mkdirSync(join(onDemand, 'kernel'), { recursive: true });
  for (const { name, data } of moduleLoadOrder(join(work, 'unpacked', 'lib', 'modules', release), ON_DEMAND_MODULES)) {
    writeFileSync(join(onDemand, 'kernel', `${name}.ko`), data);
  }
  tool(BUSYBOX, ['depmod', '-b', join(work, 'kmod'), release]);
  writeFileSync(join(work, 'module-lists'), MODULE_LISTS);
  writeFileSync(join(work, 'release'), `${release}\n`);
  writeFileSync(join(work, 'vmlinux'), extractVmlinux(join(boot, vmlinuz)));
  rmSync(join(work, 'unpacked'), { recursive: true, force: true });
  rmSync(join(work, deb), { force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  // Kernels of older versions (64 MB each) are no input any more.
  for (const entry of readdirSync(KERNEL_CACHE)) if (entry !== kernel.version) rmSync(join(KERNEL_CACHE, entry), { recursive: true, force: true });
  return dir;
}

const PT_LOAD = 1;

/**
 * The kernel as QEMU should load it: each loadable segment's trailing zeros (.bss, .brk and
 * .init.scratch, ~23 MiB of Debian's 6.1 kernel) dropped from its file size, which QEMU then
 * zero-fills instead of keeping them in the ROM copy of the ELF it holds for the VM's life
 * (measured: that copy 57 -> 34 MiB of every VM's PSS). The kernel clears its own .bss anyway.
 */
function trimKernelSegments(elf) {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let index = 0; index < phnum; index++) {
    const header = phoff + index * phentsize;
    if (elf.readUInt32LE(header) !== PT_LOAD) continue;
    const offset = Number(elf.readBigUInt64LE(header + 8));
    let fileSize = Number(elf.readBigUInt64LE(header + 32));
    while (fileSize > 0 && elf[offset + fileSize - 1] === 0) fileSize--;
    elf.writeBigUInt64LE(BigInt(fileSize), header + 32);
  }
  return elf;
}

/** Writes the cached kernel, trimmed, to `target` unless that kernel was written there already. */
function syncKernel(source, target) {
  const stamp = `${target}.stamp`;
  const from = statSync(source);
  const want = `${source} ${from.size} ${from.mtimeMs}`;
  if (existsSync(target) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  writeFileSync(`${target}.tmp`, trimKernelSegments(readFileSync(source)), { mode: 0o644 });
  renameSync(`${target}.tmp`, target);
  writeFileSync(stamp, want);
}

/** A newc cpio archive, written here so that device nodes need no mknod and no root. */
class Cpio {
  parts = [];
  inode = 1;

  entry(path, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
    const name = Buffer.from(`${path}\0`);
    const fields = [this.inode++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length, 0];
    const header = `070701${fields.map((field) => field.toString(16).padStart(8, '0')).join('')}`;
    this.parts.push(Buffer.from(header), name, Buffer.alloc(pad(110 + name.length)), data, Buffer.alloc(pad(data.length)));
  }

  dir(path) {
    this.entry(path, 0o040755);
  }

  file(path, data, mode = 0o755) {
    this.entry(path, 0o100000 | mode, data);
  }

  symlink(path, target) {
    this.entry(path, 0o120777, Buffer.from(target));
  }

  charDevice(path, major, minor) {
    this.entry(path, 0o020600, Buffer.alloc(0), [major, minor]);
  }

  finish() {
    this.entry('TRAILER!!!', 0);
    return Buffer.concat(this.parts);
  }
}

function pad(length) {
  return (4 - (length % 4)) % 4;
}

function initramfs(projectDir, kernelDir) {
  const cpio = new Cpio();
  for (const dir of ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'lib64', 'newroot', 'proc', 'run', 'sys', 'tmp', 'podvisor', 'sbin', 'usr', 'usr/bin', 'usr/sbin']) cpio.dir(dir);
  // The kernel opens /dev/console for init before anything is mounted.
  cpio.charDevice('dev/console', 5, 1);
  cpio.file('bin/busybox', readFileSync(BUSYBOX));
  const applets = tool(BUSYBOX, ['--list']).toString().split('\n').filter((name) => name !== '' && name !== 'busybox');
  for (const applet of applets) cpio.symlink(`bin/${applet}`, 'busybox');
  const order = readFileSync(join(kernelDir, 'modules', 'order'), 'utf8').split('\n').filter((name) => name !== '');
  for (const name of order) cpio.file(`lib/modules/${name}.ko`, readFileSync(join(kernelDir, 'modules', `${name}.ko`)), 0o644);
  cpio.file('lib/modules/order', Buffer.from(`${order.join('\n')}\n`), 0o644);
  // node and runc find their loader and libraries in the shared guest root, where the usual paths point.
  cpio.symlink(LIB_DIR, `/podvisor/${LIB_DIR}`);
  cpio.symlink(`lib64/${LOADER}`, `/podvisor/${LIB_DIR}/${LOADER}`);
  cpio.file('init', readFileSync(join(projectDir, 'agent', 'init', 'init.sh')));
  return gzipSync(cpio.finish(), { level: 6 });
}

/** The shared libraries an executable loads, as ldd resolves them on this host. */
function sharedLibraries(executable) {
  const libraries = [];
  for (const line of tool('ldd', [executable]).toString().split('\n')) {
    const path = /=> (\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1];
    if (path) libraries.push(path);
  }
  return libraries;
}

/** Copies `source` to `target` unless a file of the same size and age is there already. */
function syncFile(source, target, mode) {
  const from = statSync(source);
  if (existsSync(target)) {
    const to = statSync(target);
    if (to.size === from.size && to.mtimeMs === from.mtimeMs) return;
  }
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  chmodSync(target, mode ?? from.mode & 0o777);
  utimesSync(target, from.atime, from.mtime);
}

/** Mirrors `source` (a file or a tree) at `target`, deleting what `source` no longer has. */
function syncTree(source, target) {
  const info = lstatSync(source);
  if (info.isSymbolicLink()) {
    rmSync(target, { recursive: true, force: true });
    symlinkSync(readlinkSync(source), target);
    return;
  }
  if (!info.isDirectory()) return syncFile(source, target);
  if (existsSync(target) && !lstatSync(target).isDirectory()) rmSync(target, { force: true });
  mkdirSync(target, { recursive: true });
  const entries = new Set(readdirSync(source));
  for (const entry of readdirSync(target)) if (!entries.has(entry)) rmSync(join(target, entry), { recursive: true, force: true });
  for (const entry of entries) syncTree(join(source, entry), join(target, entry));
}

function guestRoot(projectDir, root, kernelDir) {
  const release = readFileSync(join(kernelDir, 'release'), 'utf8').trim();
  syncTree(join(kernelDir, 'kmod', 'lib', 'modules', release), join(root, 'kmod'));
  syncFile(process.execPath, join(root, 'bin', 'node'), 0o755);
  syncFile(RUNC, join(root, 'bin', 'runc'), 0o755);
  syncFile(TINI, join(root, 'bin', 'tini'), 0o755);
  // Our static pause: PID 1 of a pod's shared PID namespace in the guest.
  syncFile(join(projectDir, 'dist', 'pause'), join(root, 'bin', 'pause'), 0o755);
  const libraries = new Set([...sharedLibraries(process.execPath), ...sharedLibraries(RUNC)]);
  for (const library of libraries) syncFile(library, join(root, LIB_DIR, basename(library)), 0o755);
  for (const path of AGENT_FILES) {
    const source = join(projectDir, path);
    const target = join(root, 'app', path);
    // An agent removed from the build is removed from the guest too.
    if (existsSync(source)) syncTree(source, target);
    else rmSync(target, { recursive: true, force: true });
  }
}

/** Every file's path, size, age and mode under `dir`: what an image made from it depends on. */
function treeListing(dir, prefix = '') {
  const lines = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    const info = lstatSync(path);
    lines.push(`${prefix}${entry.name} ${info.mode} ${info.size} ${info.mtimeMs}${entry.isSymbolicLink() ? ` -> ${readlinkSync(path)}` : ''}`);
    if (entry.isDirectory()) lines.push(...treeListing(path, `${prefix}${entry.name}/`));
  }
  return lines;
}

/**
 * The guest root as an uncompressed EROFS image (TCG decompresses slowly; the host's page cache
 * holds one copy for all VMs). A new image is a new file renamed into place: running VMs keep
 * the one they opened.
 */
function guestRootImage(root, image) {
  const stamp = `${image}.stamp`;
  const want = digest([Buffer.from(treeListing(root).join('\n'))]);
  if (existsSync(image) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  tool('mkfs.erofs', ['--quiet', '--all-root', `${image}.tmp`, root]);
  renameSync(`${image}.tmp`, image);
  writeFileSync(stamp, want);
}

function digest(buffers) {
  const hash = createHash('sha256');
  for (const buffer of buffers) hash.update(buffer);
  return hash.digest('hex');
}

/** Makes dist/guest; quick when nothing changed. */
export function ensureGuestAssets(projectDir, log) {
  const out = join(projectDir, 'dist', 'guest');
  mkdirSync(out, { recursive: true });
  const kernelDir = ensureKernel(log);

  syncKernel(join(kernelDir, 'vmlinux'), join(out, 'vmlinux'));

  const initInputs = [join(projectDir, 'agent', 'init', 'init.sh'), BUSYBOX, join(kernelDir, 'modules', 'order'), join(projectDir, 'scripts', 'guest-assets.mjs')];
  const stamp = join(out, 'initramfs.stamp');
  const want = digest([Buffer.from(kernelDir), ...initInputs.map((path) => readFileSync(path))]);
  if (!existsSync(join(out, 'initramfs.img')) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    log('building the VM guest initramfs');
    writeFileSync(join(out, 'initramfs.img.tmp'), initramfs(projectDir, kernelDir));
    renameSync(join(out, 'initramfs.img.tmp'), join(out, 'initramfs.img'));
    writeFileSync(stamp, want);
  }
  guestRoot(projectDir, join(out, 'root'), kernelDir);
  guestRootImage(join(out, 'root'), join(out, 'root.erofs'));
  return { kernelRelease: readFileSync(join(kernelDir, 'release'), 'utf8').trim() };
}
