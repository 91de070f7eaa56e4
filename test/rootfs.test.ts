import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountPointOf } from '../storage/fs-usage';
import { mountRootfs, removeRootfs, unmountRootfs, writableLayerUsage, type ContainerRootfs } from '../storage/rootfs';
import { readMountInfo } from '../system/mountinfo';
import { makeBusyboxLayer } from './support/busybox-layer';

async function mountedUnder(dir: string): Promise<string[]> {
  return (await readMountInfo()).map((mount) => mount.mountPoint).filter((point) => point.startsWith(dir));
}

describe('overlay container rootfs', () => {
  let scratch: string;
  let mounted: ContainerRootfs[] = [];

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'podvisor-rootfs-'));
  });

  afterEach(async () => {
    for (const rootfs of mounted) await removeRootfs(rootfs);
    mounted = [];
    await rm(scratch, { recursive: true, force: true });
  });

  it('stacks layers in image order and writes into the upper layer', async () => {
    const base = join(scratch, 'layers', 'base');
    const top = join(scratch, 'layers', 'top');
    await makeBusyboxLayer(base);
    await mkdir(join(top, 'etc'), { recursive: true });
    await writeFile(join(base, 'shared'), 'from base');
    await writeFile(join(top, 'shared'), 'from top');
    await writeFile(join(top, 'etc', 'top-only'), 'top');

    const rootfs = await mountRootfs(join(scratch, 'containers', 'c1'), [base, top]);
    mounted.push(rootfs);
    expect(rootfs.mountPoint).toBe(join(scratch, 'containers', 'c1', 'merged'));
    expect((await readFile(join(rootfs.mountPoint, 'bin', 'busybox'))).length).toBeGreaterThan(0);
    expect(await readFile(join(rootfs.mountPoint, 'etc', 'top-only'), 'utf8')).toBe('top');
    expect(await readFile(join(rootfs.mountPoint, 'shared'), 'utf8')).toBe('from top');

    const before = await writableLayerUsage(rootfs);
    await writeFile(join(rootfs.mountPoint, 'written'), Buffer.alloc(64 * 1024, 1));
    expect(await readFile(join(rootfs.upper, 'written'))).toHaveLength(64 * 1024);
    await expect(readFile(join(base, 'written'))).rejects.toThrow();
    const after = await writableLayerUsage(rootfs);
    expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(after.inodes).toBe(before.inodes + 1);

    await unmountRootfs(rootfs);
    await unmountRootfs(rootfs);
    expect(await mountedUnder(scratch)).toEqual([]);
    await removeRootfs(rootfs);
    await removeRootfs(rootfs);
    await expect(readFile(join(base, 'shared'), 'utf8')).resolves.toBe('from base');
    expect(await mountedUnder(scratch)).toEqual([]);
  });

  it('reads a container removed while its stats are taken as using nothing, on the filesystem its path names', async () => {
    // ListContainerStats lists a container, then RemoveContainer takes its directory before its usage is read.
    const rootfs = await mountRootfs(join(scratch, 'containers', 'gone'), []);
    await removeRootfs(rootfs);
    expect(await writableLayerUsage(rootfs)).toEqual({ bytes: 0, inodes: 0 });
    expect(await mountPointOf(rootfs.dir)).toBe(await mountPointOf(scratch));
  });

  it('mounts an image without layers over an empty lower layer', async () => {
    const rootfs = await mountRootfs(join(scratch, 'containers', 'empty'), []);
    mounted.push(rootfs);
    await writeFile(join(rootfs.mountPoint, 'only'), 'x');
    expect(await readFile(join(rootfs.upper, 'only'), 'utf8')).toBe('x');
  });

  it('keeps the mount options short for images with many layers', async () => {
    const layers: string[] = [];
    for (let index = 0; index < 60; index += 1) {
      const layer = join(scratch, 'layers', `${'deep-layer-directory-name-'.repeat(3)}${index}`);
      await mkdir(layer, { recursive: true });
      await writeFile(join(layer, `file-${index}`), String(index));
      layers.push(layer);
    }
    const rootfs = await mountRootfs(join(scratch, 'containers', 'deep'), layers);
    mounted.push(rootfs);
    expect(await readFile(join(rootfs.mountPoint, 'file-0'), 'utf8')).toBe('0');
    expect(await readFile(join(rootfs.mountPoint, 'file-59'), 'utf8')).toBe('59');
  });
});
