import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { compressionOfMediaType, unpackLayer, UnsafeLayerError, type LayerCompression } from '../storage/layer-unpack';
import { InvalidArgumentError } from '../system/errors';

const run = promisify(execFile);

/** An entry packed by tar-stream, or raw header blocks for what its pack cannot write (binary PAX values, GNU long names, other types). */
type TestEntry = { header: Partial<Header> & { name: string }; data?: string | Buffer } | { raw: Buffer };

const TIME = new Date('2001-02-03T04:05:06Z');
const OLDER = new Date('1999-12-31T23:59:58Z');
const CAPABILITY = Buffer.from('0100000200200080ff0000000000000000000000', 'hex');

/** Packs each entry on its own (so raw blocks can go between them), then ends the archive. */
async function tarOf(entries: TestEntry[]): Promise<Buffer> {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    if ('raw' in entry) {
      blocks.push(entry.raw);
      continue;
    }
    const packer = pack();
    packer.entry({ mtime: TIME, ...entry.header }, entry.data ?? '');
    packer.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of packer) chunks.push(chunk as Buffer);
    blocks.push(Buffer.concat(chunks).subarray(0, -1024));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

/** A ustar header block of any type, followed by its data. */
function rawBlock(name: string, typeflag: string, data: string | Buffer): Buffer {
  const body = Buffer.from(data);
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'latin1');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${(TIME.getTime() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  header.write(typeflag, 156, 'latin1');
  header.write('ustar\x0000', 257, 'latin1');
  header.fill(0x20, 148, 156);
  header.write(`${header.reduce((sum, byte) => sum + byte, 0).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([header, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** A PAX header with raw byte values (tar-stream's pack writes values as UTF-8 text). */
function paxHeader(records: Record<string, Buffer>): TestEntry {
  const encoded = Object.entries(records).map(([key, value]) => {
    const body = Buffer.concat([Buffer.from(` ${key}=`, 'latin1'), value, Buffer.from('\n')]);
    let digits = 1;
    while (String(digits + body.length).length !== digits) digits++;
    return Buffer.concat([Buffer.from(String(digits + body.length)), body]);
  });
  return { raw: rawBlock('PaxHeader', 'x', Buffer.concat(encoded)) };
}

/** Extended attributes as getfattr reports them, values hex-encoded. */
async function xattrsOf(path: string): Promise<Record<string, string>> {
  const { stdout } = await run('getfattr', ['-h', '-d', '-m', '-', '--absolute-names', '-e', 'hex', path]);
  const lines = stdout.split('\n').filter((line) => line.includes('='));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** Major and minor of a device number (enough bits for the small numbers used here). */
function deviceOf(rdev: number): [number, number] {
  return [Math.floor(rdev / 256) & 0xfff, rdev & 0xff];
}

/** A layer with one of each kind of entry, used to compare compressions. */
function sampleEntries(): TestEntry[] {
  return [
    { header: { name: './', type: 'directory', mode: 0o755 } },
    { header: { name: 'etc/', type: 'directory', mode: 0o750, uid: 10, gid: 20, mtime: OLDER } },
    { header: { name: 'etc/hosts', mode: 0o640, uid: 1000, gid: 1001 }, data: '127.0.0.1 localhost\n' },
    { header: { name: 'etc/hosts.hard', type: 'link', linkname: 'etc/hosts' } },
    { header: { name: 'etc/abs', type: 'symlink', linkname: '/etc/hosts', uid: 7, gid: 8 } },
    { header: { name: 'bin/', type: 'directory' } },
    paxHeader({ 'SCHILY.xattr.security.capability': CAPABILITY }),
    { header: { name: 'bin/ping', mode: 0o4755, uid: 0, gid: 0 }, data: 'ELF' },
    { header: { name: 'dev/', type: 'directory' } },
    { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 } },
    { header: { name: 'usr/', type: 'directory' } },
    { header: { name: 'usr/.wh.gone', mode: 0o644 } },
    { header: { name: 'var/', type: 'directory' } },
    { header: { name: 'var/.wh..wh..opq', mode: 0o644 } },
  ];
}

/** Everything a user could see of a tree, one line per path. */
async function listing(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const path = join(dir, name);
    const info = await lstat(path);
    const content = info.isSymbolicLink() ? `-> ${await readlink(path)}` : info.isFile() ? createHash('sha256').update(await readFile(path)).digest('hex') : '';
    // Whiteouts share one device made during the unpack, so their time is the unpack's.
    const time = info.isCharacterDevice() && info.rdev === 0 ? '' : String(info.mtimeMs);
    lines.push(`${name} ${info.mode.toString(8)} ${info.uid}:${info.gid} ${info.rdev} ${time} ${content} ${JSON.stringify(await xattrsOf(path))}`);
  }
  return lines;
}

describe('compressionOfMediaType', () => {
  test('names the compression of OCI and Docker layer types, and nothing for other types', () => {
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar')).toBe('none');
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+gzip')).toBe('gzip');
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+zstd')).toBe('zstd');
    expect(compressionOfMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe('gzip');
    expect(compressionOfMediaType('application/vnd.oci.image.config.v1+json')).toBeUndefined();
    expect(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+gzip+encrypted')).toBeUndefined();
  });
});

describe('unpackLayer', () => {
  let root: string;
  let dest: string;
  let canary: string;
  let blob: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'podvisor-unpack-'));
    dest = join(root, 'layer');
    canary = join(root, 'canary');
    blob = join(root, 'blob');
    await mkdir(dest);
    await mkdir(canary);
    await writeFile(join(canary, 'original'), 'untouched');
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  async function compressed(tar: Buffer, compression: LayerCompression): Promise<Buffer> {
    if (compression === 'gzip') return gzipSync(tar);
    if (compression === 'none') return tar;
    await writeFile(join(root, 'plain.tar'), tar);
    await run('zstd', ['-q', '-f', '-o', join(root, 'plain.tar.zst'), join(root, 'plain.tar')]);
    return readFile(join(root, 'plain.tar.zst'));
  }

  async function unpack(entries: TestEntry[], compression: LayerCompression = 'none', into = dest): Promise<string> {
    await writeFile(blob, await compressed(await tarOf(entries), compression));
    return (await unpackLayer(blob, compression, into)).diffId;
  }

  /** Unpacks a hostile layer into a fresh dest, expecting refusal naming `entry`, and checks nothing outside dest changed. */
  async function expectRefused(entries: TestEntry[], entry: string, problem: RegExp): Promise<void> {
    await rm(dest, { recursive: true });
    await mkdir(dest);
    const refusal = unpack(entries);
    await expect(refusal).rejects.toThrow(UnsafeLayerError);
    await expect(refusal).rejects.toThrow(`layer entry ${JSON.stringify(entry)} `);
    await expect(refusal).rejects.toThrow(problem);
    expect((await readdir(root)).sort()).toEqual(['blob', 'canary', 'layer']);
    expect(await readdir(canary)).toEqual(['original']);
    expect(await readFile(join(canary, 'original'), 'utf8')).toBe('untouched');
    expect((await lstat(join(canary, 'original'))).nlink).toBe(1);
  }

  test('files, directories, symlinks and hard links keep content, owner, mode and time', async () => {
    await unpack(sampleEntries());
    const hosts = await lstat(join(dest, 'etc/hosts'));
    expect(await readFile(join(dest, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    expect([hosts.mode & 0o7777, hosts.uid, hosts.gid, hosts.mtime]).toEqual([0o640, 1000, 1001, TIME]);
    const etc = await lstat(join(dest, 'etc'));
    expect([etc.isDirectory(), etc.mode & 0o7777, etc.uid, etc.gid]).toEqual([true, 0o750, 10, 20]);
    const hard = await lstat(join(dest, 'etc/hosts.hard'));
    expect([hard.ino, hard.nlink]).toEqual([hosts.ino, 2]);
    const abs = await lstat(join(dest, 'etc/abs'));
    expect([abs.isSymbolicLink(), abs.uid, abs.gid, abs.mtime]).toEqual([true, 7, 8, TIME]);
    expect(await readlink(join(dest, 'etc/abs'))).toBe('/etc/hosts');
  });

  test('devices and FIFOs are made with their numbers, mode and owner', async () => {
    await unpack([
      { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, uid: 5, gid: 6 } },
      { header: { name: 'dev/loop2', type: 'block-device', devmajor: 7, devminor: 2, mode: 0o660, uid: 0, gid: 6 } },
      { header: { name: 'run/pipe', type: 'fifo', mode: 0o620, uid: 33, gid: 44 } },
    ]);
    const chr = await lstat(join(dest, 'dev/null'));
    expect([chr.isCharacterDevice(), deviceOf(chr.rdev), chr.mode & 0o7777, chr.uid, chr.gid, chr.mtime]).toEqual([true, [1, 3], 0o666, 5, 6, TIME]);
    const blk = await lstat(join(dest, 'dev/loop2'));
    expect([blk.isBlockDevice(), deviceOf(blk.rdev), blk.mode & 0o7777, blk.uid, blk.gid]).toEqual([true, [7, 2], 0o660, 0, 6]);
    const fifo = await lstat(join(dest, 'run/pipe'));
    expect([fifo.isFIFO(), fifo.mode & 0o7777, fifo.uid, fifo.gid]).toEqual([true, 0o620, 33, 44]);
    expect((await readdir(dest)).sort()).toEqual(['dev', 'run']);
  });

  test('setuid and setgid survive the change of owner; sticky directories stay sticky', async () => {
    await unpack([
      { header: { name: 'usr/bin/su', mode: 0o6755, uid: 1000, gid: 1000 }, data: 'ELF' },
      { header: { name: 'tmp/', type: 'directory', mode: 0o1777, uid: 1, gid: 1 } },
    ]);
    const su = await lstat(join(dest, 'usr/bin/su'));
    expect([su.mode & 0o7777, su.uid, su.gid]).toEqual([0o6755, 1000, 1000]);
    expect((await lstat(join(dest, 'tmp'))).mode & 0o7777).toBe(0o1777);
  });

  test('directories keep their tar mtimes although their children were written after them', async () => {
    await unpack([
      { header: { name: './', type: 'directory', mode: 0o711, mtime: OLDER, uid: 3, gid: 4 } },
      { header: { name: 'a/', type: 'directory', mtime: OLDER } },
      { header: { name: 'a/b/', type: 'directory', mtime: OLDER } },
      { header: { name: 'a/b/file' }, data: 'x' },
      { header: { name: 'a/link', type: 'symlink', linkname: 'b' } },
    ]);
    for (const path of ['', 'a', 'a/b']) expect((await lstat(join(dest, path))).mtime).toEqual(OLDER);
    const layerRoot = await lstat(dest);
    expect([layerRoot.mode & 0o7777, layerRoot.uid, layerRoot.gid]).toEqual([0o711, 3, 4]);
  });

  test('extended attributes, binary ones included, are set on files and directories', async () => {
    await unpack([
      { header: { name: 'data/', type: 'directory', pax: { 'SCHILY.xattr.user.dir': 'on dir' } } },
      { header: { name: 'data/file', pax: { 'SCHILY.xattr.user.test': 'hello' } }, data: 'x' },
      paxHeader({ 'SCHILY.xattr.security.capability': CAPABILITY, 'SCHILY.xattr.user.empty': Buffer.alloc(0) }),
      { header: { name: 'bin/ping' }, data: 'ELF' },
    ]);
    expect(await xattrsOf(join(dest, 'data'))).toEqual({ 'user.dir': `0x${Buffer.from('on dir').toString('hex')}` });
    expect(await xattrsOf(join(dest, 'data/file'))).toEqual({ 'user.test': `0x${Buffer.from('hello').toString('hex')}` });
    expect(await xattrsOf(join(dest, 'bin/ping'))).toEqual({ 'security.capability': `0x${CAPABILITY.toString('hex')}`, 'user.empty': '0x' });
  });

  test('long names and link targets, in GNU or PAX headers or the ustar prefix, are honoured', async () => {
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}`;
    const gnuName = `${deep}/${'g'.repeat(120)}`;
    const paxName = `${deep}/${'p'.repeat(200)}`;
    await unpack([
      { header: { name: `${deep}/prefixed` }, data: 'ustar prefix' },
      { raw: rawBlock('././@LongLink', 'L', `${gnuName}\0`) },
      { header: { name: gnuName.slice(0, 100) }, data: 'gnu' },
      { header: { name: paxName }, data: 'pax' },
      { raw: rawBlock('././@LongLink', 'L', `${deep}/gnu-hard\0`) },
      { raw: rawBlock('././@LongLink', 'K', `${gnuName}\0`) },
      { header: { name: 'short', type: 'link', linkname: 'short' } },
    ]);
    expect(await readFile(join(dest, deep, 'prefixed'), 'utf8')).toBe('ustar prefix');
    expect(await readFile(join(dest, gnuName), 'utf8')).toBe('gnu');
    expect(await readFile(join(dest, paxName), 'utf8')).toBe('pax');
    expect((await lstat(join(dest, deep, 'gnu-hard'))).ino).toBe((await lstat(join(dest, gnuName))).ino);
    expect((await readdir(join(dest, deep))).sort()).toEqual(['gnu-hard', 'g'.repeat(120), 'p'.repeat(200), 'prefixed'].sort());
  });

  test('names and symlink targets that are not UTF-8 are kept byte for byte', async () => {
    const name = Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9]);
    const target = Buffer.from([0x2f, 0x6f, 0x70, 0x74, 0x2f, 0xff, 0xfe]);
    await unpack([paxHeader({ path: name, linkpath: target }), { header: { name: 'placeholder', type: 'symlink', linkname: 'placeholder' } }]);
    expect(await readdir(dest, { encoding: 'buffer' })).toEqual([name]);
    expect(await readlink(Buffer.concat([Buffer.from(`${dest}/`), name]), { encoding: 'buffer' })).toEqual(target);
  });

  test('a whiteout becomes a 0:0 character device under the hidden name, and no .wh. file remains', async () => {
    await unpack([
      { header: { name: 'etc/', type: 'directory' } },
      { header: { name: 'etc/.wh.passwd', mode: 0o644, uid: 1000 } },
      { header: { name: 'etc/.wh.shadow' } },
      { header: { name: 'etc/kept' }, data: 'k' },
      { header: { name: 'etc/.wh.kept' } },
    ]);
    expect((await readdir(join(dest, 'etc'))).sort()).toEqual(['kept', 'passwd', 'shadow']);
    for (const hidden of ['passwd', 'shadow']) {
      const whiteout = await lstat(join(dest, 'etc', hidden));
      expect([whiteout.isCharacterDevice(), whiteout.rdev, whiteout.mode & 0o7777, whiteout.uid, whiteout.gid]).toEqual([true, 0, 0, 0, 0]);
    }
    // An entry of the layer itself is not hidden by a whiteout in the same layer.
    expect(await readFile(join(dest, 'etc/kept'), 'utf8')).toBe('k');
    expect(await readdir(dest)).toEqual(['etc']);
  });

  test('an opaque marker sets trusted.overlay.opaque=y on its directory, made if missing, and leaves no file', async () => {
    await unpack([
      { header: { name: 'var/', type: 'directory', mode: 0o700 } },
      { header: { name: 'var/.wh..wh..opq' } },
      { header: { name: 'var/new' }, data: 'n' },
      { header: { name: 'opt/app/.wh..wh..opq' } },
    ]);
    expect(await readdir(join(dest, 'var'))).toEqual(['new']);
    expect(await xattrsOf(join(dest, 'var'))).toEqual({ 'trusted.overlay.opaque': '0x79' });
    expect((await lstat(join(dest, 'var'))).mode & 0o7777).toBe(0o700);
    expect(await readdir(join(dest, 'opt/app'))).toEqual([]);
    expect(await xattrsOf(join(dest, 'opt/app'))).toEqual({ 'trusted.overlay.opaque': '0x79' });
  });

  test('gzip, zstd and plain layers give the same tree, and the diffId is the sha256 of the plain tar', async () => {
    const tar = await tarOf(sampleEntries());
    const expected = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const trees: string[][] = [];
    for (const compression of ['none', 'gzip', 'zstd'] as const) {
      const into = join(root, compression);
      await mkdir(into);
      await writeFile(blob, await compressed(tar, compression));
      expect(await unpackLayer(blob, compression, into)).toEqual({ diffId: expected, uncompressedSize: tar.length });
      trees.push(await listing(into));
    }
    expect(trees[0]).toHaveLength(11);
    expect(trees[1]).toEqual(trees[0]);
    expect(trees[2]).toEqual(trees[0]);
  });

  test('a blob whose media type lies is read as what its bytes are', async () => {
    const tar = await tarOf(sampleEntries());
    const expected = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const mislabelled: Array<[LayerCompression, LayerCompression]> = [['gzip', 'none'], ['zstd', 'gzip'], ['none', 'zstd']];
    for (const [actual, declared] of mislabelled) {
      const into = join(root, actual);
      await mkdir(into);
      await writeFile(blob, await compressed(tar, actual));
      expect((await unpackLayer(blob, declared, into)).diffId).toBe(expected);
      expect(await readFile(join(into, 'etc/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    }
  });

  test('an entry replacing an earlier symlink is written in place, never through the link', async () => {
    await unpack([
      { header: { name: 'conf', type: 'symlink', linkname: join(canary, 'original') } },
      { header: { name: 'conf', mode: 0o600 }, data: 'replaced' },
      { header: { name: 'dir', type: 'symlink', linkname: canary } },
      { header: { name: 'dir/', type: 'directory' } },
      { header: { name: 'dir/inside' }, data: 'in layer' },
    ]);
    expect((await lstat(join(dest, 'conf'))).isFile()).toBe(true);
    expect(await readFile(join(dest, 'conf'), 'utf8')).toBe('replaced');
    expect((await lstat(join(dest, 'dir'))).isDirectory()).toBe(true);
    expect(await readFile(join(dest, 'dir/inside'), 'utf8')).toBe('in layer');
    expect(await readdir(canary)).toEqual(['original']);
    expect(await readFile(join(canary, 'original'), 'utf8')).toBe('untouched');
  });

  test('a directory replaced by a file or symlink goes with all it held', async () => {
    await unpack([
      { header: { name: 'a/b/c' }, data: 'deep' },
      { header: { name: 'a', type: 'symlink', linkname: canary } },
      { header: { name: 'x/y' }, data: 'y' },
      { header: { name: 'x' }, data: 'now a file' },
    ]);
    expect(await readlink(join(dest, 'a'))).toBe(canary);
    expect(await readFile(join(dest, 'x'), 'utf8')).toBe('now a file');
    expect(await readdir(canary)).toEqual(['original']);
  });

  test('a name climbing out with ".." is refused', async () => {
    await expectRefused([{ header: { name: 'ok' }, data: '' }, { header: { name: '../canary/evil' }, data: 'pwned' }], '../canary/evil', /escapes the layer directory/);
    await expectRefused([{ header: { name: 'a/../../canary/evil' }, data: 'pwned' }], 'a/../../canary/evil', /escapes the layer directory/);
  });

  test('an absolute name is refused', async () => {
    await expectRefused([{ header: { name: join(canary, 'evil') }, data: 'pwned' }], join(canary, 'evil'), /escapes the layer directory/);
  });

  test('writing through a symlink made earlier in the layer is refused', async () => {
    await expectRefused(
      [{ header: { name: 'evil', type: 'symlink', linkname: canary } }, { header: { name: 'evil/passwd' }, data: 'pwned' }],
      'evil/passwd',
      /passes through the symlink "evil"/,
    );
    await expectRefused(
      [{ header: { name: 'evil', type: 'symlink', linkname: '../canary' } }, { header: { name: 'evil/sub/', type: 'directory' } }],
      'evil/sub/',
      /passes through the symlink "evil"/,
    );
  });

  test('hard links to absolute paths or out of the layer are refused', async () => {
    await expectRefused([{ header: { name: 'passwd', type: 'link', linkname: '/etc/passwd' } }], 'passwd', /hard link to "\/etc\/passwd", outside the layer directory/);
    await expectRefused([{ header: { name: 'stolen', type: 'link', linkname: '../canary/original' } }], 'stolen', /outside the layer directory/);
  });

  test('a hard link whose target lies through a symlink of the layer is refused', async () => {
    await expectRefused(
      [{ header: { name: 'evil', type: 'symlink', linkname: canary } }, { header: { name: 'stolen', type: 'link', linkname: 'evil/original' } }],
      'stolen',
      /hard link to "evil\/original", which passes through the symlink "evil"/,
    );
  });

  test('hard links to a directory or to nothing in the layer are refused', async () => {
    await expectRefused([{ header: { name: 'd/', type: 'directory' } }, { header: { name: 'l', type: 'link', linkname: 'd' } }], 'l', /hard link to the directory "d"/);
    await expectRefused([{ header: { name: 'l', type: 'link', linkname: 'original' } }], 'l', /which is not in this layer/);
  });

  test('layer-supplied overlayfs attributes and unsupported entry types are refused', async () => {
    await expectRefused([{ header: { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/x' } } }], 'd/', /overlayfs attribute "trusted.overlay.redirect"/);
    await expectRefused([{ raw: rawBlock('sparse', 'S', 'x') }], 'sparse', /sparse file/);
  });

  test('a layer refused midway leaves no file open', async () => {
    const openFiles = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    const files: TestEntry[] = Array.from({ length: 300 }, (_, i) => ({ header: { name: `f${i}` }, data: Buffer.alloc(64 * 1024, i) }));
    const failure = await unpack([...files, { header: { name: '../canary/evil' }, data: 'pwned' }]).catch((error: unknown) => error);
    expect(await openFiles()).toBe(before);
    expect(failure).toBeInstanceOf(UnsafeLayerError);
  });

  test('a corrupt blob is an invalid argument, not an internal error', async () => {
    const gz = gzipSync(await tarOf(sampleEntries()));
    await writeFile(blob, gz.subarray(0, gz.length - 20));
    const result = unpackLayer(blob, 'gzip', dest);
    await expect(result).rejects.toThrow(InvalidArgumentError);
    await expect(result).rejects.not.toThrow(UnsafeLayerError);
  });

  test('aborting stops the unpack with the abort reason and leaves no zstd process behind', async () => {
    const packer = pack();
    for (let i = 0; i < 20000; i++) packer.entry({ name: `f/${i}`, mtime: TIME }, 'x');
    packer.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of packer) chunks.push(chunk as Buffer);
    await writeFile(blob, await compressed(Buffer.concat(chunks), 'zstd'));
    const controller = new AbortController();
    const unpacking = unpackLayer(blob, 'zstd', dest, controller.signal);
    const settled = unpacking.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    while ((await readdir(dest)).length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    controller.abort();
    expect(await settled).toBe(controller.signal.reason);
    const { stdout } = await run('ps', ['-o', 'comm=', '--ppid', String(process.pid)]);
    expect(stdout.split('\n')).not.toContain('zstd');
  });

  test('a hard link into the same layer survives later replacement of its target name', async () => {
    await unpack([
      { header: { name: 'a' }, data: 'first' },
      { header: { name: 'b', type: 'link', linkname: './a' } },
      { header: { name: 'a' }, data: 'second' },
    ]);
    expect(await readFile(join(dest, 'b'), 'utf8')).toBe('first');
    expect(await readFile(join(dest, 'a'), 'utf8')).toBe('second');
    expect([(await lstat(join(dest, 'a'))).nlink, (await lstat(join(dest, 'b'))).nlink]).toEqual([1, 1]);
  });
});
