// A full disk under the root or the runroot, made on cue with small filesystems (the root ext4 on
// a loop device, the runroot a tmpfs, as under /run): a pull or a creation that meets it is
// answered RESOURCE_EXHAUSTED and leaves nothing half-made, a log loses the lines it had no room
// for, and everything works again once space is freed.
import { status as Code } from '@grpc/grpc-js';
import { mkdir, readFile, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageServiceService as Images, ImageSpec, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { pushImage } from '../testbed/test-images';
import { ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';
import { mountPoints } from './support/net-tools';
import { SmallFilesystem } from './support/small-filesystem';

const MIB = 1024 * 1024;
const BLOCK = 4096;
// Room for busybox, a few containers' records and writable layers, but not for the big image.
const ROOT_MIB = 64;
const RUNROOT_MIB = 16;
// Unpacked, the big image's layer takes this much; compressed, a few kilobytes.
const BIG_FILE_MIB = 24;
const CONFIG = `
[runtime.handlers.runc]
type = "oci"
runtime_path = "/usr/bin/runc"
[runtime.handlers.vm]
type = "vm"
# A template's memory file lives in the runroot, far bigger than this one.
template = false
`;
const BOOT_MS = 180_000;
const WAIT_MS = 60_000;
const POLL_MS = 100;
// A CRI log entry as the kubelet parses it.
const ENTRY = /^\S+ (stdout|stderr) [PF] (.*)$/;
// What the logging container prints, numbered, one line at a time.
const LINE = /^line (\d+) of a container that keeps on writing$/;
// Lines printed while the disk is full: together more than a page, so one of them is cut short
// at a page's end, where the file needs room it does not get.
const LINES_WHILE_FULL = 100;
const COUNTER_READS = 100;

describe('a full disk under the root or the runroot', () => {
  let fixture: ContainerDaemon;
  let root: SmallFilesystem | undefined;
  let runroot: SmallFilesystem | undefined;
  let bigImage: string;

  beforeAll(async () => {
    fixture = await ContainerDaemon.start('10.219.43.0/24', {
      config: CONFIG,
      prepare: async (dirs) => {
        await Promise.all([mkdir(dirs.root), mkdir(dirs.runroot)]);
        const rootFs = await SmallFilesystem.mount(dirs.root, ROOT_MIB, 'ext4');
        const runrootFs = await SmallFilesystem.mount(dirs.runroot, RUNROOT_MIB, 'tmpfs').catch(async (error: unknown) => {
          await rootFs.unmount();
          throw error;
        });
        [root, runroot] = [rootFs, runrootFs];
        return async () => {
          await runrootFs.unmount();
          await rootFs.unmount();
        };
      },
    });
    await pushImage(fixture.registryHost, 'test/big', 'latest', { layers: [[{ type: 'file', path: 'data/zeros', content: Buffer.alloc(BIG_FILE_MIB * MIB) }]] });
    bigImage = `${fixture.registryHost}/test/big:latest`;
  }, 120_000);

  afterAll(() => fixture?.close(), 60_000);

  // What a failed case left: its disk full, its pods.
  afterEach(async () => {
    await root?.free();
    await runroot?.free();
    for (const podId of await fixture.podIds()) await fixture.stopAndRemovePod(podId).catch(() => undefined);
  }, BOOT_MS);

  const disks = (): { root: SmallFilesystem; runroot: SmallFilesystem } => {
    if (!root || !runroot) throw new Error('no small filesystems');
    return { root, runroot };
  };
  const pull = (image: string) => unary(fixture.client, Images.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined });
  const imageTags = async (): Promise<string[]> => (await unary(fixture.client, Images.listImages, { filter: undefined })).images.flatMap((image) => image.repoTags).sort();
  const storage = (...parts: string[]): string => join(fixture.dirs.root, 'storage', ...parts);

  test('a pull into a full root is RESOURCE_EXHAUSTED, leaves the store as it was, and succeeds once space is freed', async () => {
    const before = await imageTags();
    for (const leave of [0, 2 * MIB]) {
      await disks().root.fill(leave);
      // Full, the first blob has no room; with a little room, the layer's unpacking runs out of it.
      const failure = await grpcFailure(pull(bigImage));
      expect(failure.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(failure.details).toContain(storage());
      expect(await imageTags()).toEqual(before);
      expect(await readdir(storage('ingest'))).toEqual([]);
      for (const dir of ['layers', 'images']) expect((await readdir(storage(dir))).filter((name) => name.startsWith('.'))).toEqual([]);
      await disks().root.free();
    }
    await pull(bigImage);
    expect(await imageTags()).toEqual([...before, bigImage].sort());
  }, 60_000);

  test('a pod or a container made on a full root or runroot is RESOURCE_EXHAUSTED and leaves nothing; it is made once space is freed', async () => {
    const podId = await fixture.runPod('made-full', 'runc');
    const entries = (...path: string[]): Promise<string[]> => readdir(join(...path)).catch(() => []);
    // Nothing of a failed creation: no object listed or recorded, no root filesystem, bundle or conmon files.
    const nothingLeft = async (): Promise<void> => {
      expect((await unary(fixture.client, Runtime.listContainers, { filter: undefined })).containers).toEqual([]);
      expect(await fixture.podIds()).toEqual([podId]);
      const { root: rootDir, runroot: runrootDir } = fixture.dirs;
      const mounts = (await mountPoints()).filter((path) => path.startsWith(`${rootDir}/`) || path.startsWith(`${runrootDir}/`));
      expect(mounts.filter((path) => !path.includes(podId))).toEqual([]);
      for (const dir of [storage('containers'), join(rootDir, 'containers'), join(rootDir, 'unfinished', 'containers'), join(rootDir, 'unfinished', 'pods')]) {
        expect(await entries(dir)).toEqual([]);
      }
      expect(await entries(rootDir, 'pods')).toEqual([`${podId}.json`]);
      expect(await entries(runrootDir, 'containers')).toEqual([]);
      expect(await entries(runrootDir, 'handlers', 'runc', 'containers')).toEqual([]);
    };
    // A full root fails the first record; one with a few blocks left, a later step (runc making
    // the mount points in the root filesystem, whose complaint carries no errno); a full runroot, the bundle.
    const spells: [SmallFilesystem, number][] = [
      [disks().root, 0],
      [disks().root, 3 * BLOCK],
      [disks().runroot, 0],
    ];
    for (const [disk, leave] of spells) {
      await disk.fill(leave);
      if (leave === 0) {
        const failure = await grpcFailure(fixture.runPod('pod-full', 'runc'));
        expect(failure.code).toBe(Code.RESOURCE_EXHAUSTED);
        expect(failure.details).toContain(disk.mountPoint);
      }
      const failure = await grpcFailure(fixture.createContainer(podId, 'app', ['sleep', '60']));
      expect(failure.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(failure.details).toContain(disk.mountPoint);
      await nothingLeft();
      await disk.free();
    }
    // Neither name stayed taken.
    const id = await fixture.createContainer(podId, 'app', ['sleep', '60']);
    await unary(fixture.client, Runtime.startContainer, { containerId: id });
    await fixture.stopAndRemovePod(await fixture.runPod('pod-full', 'runc'));
    await fixture.stopAndRemovePod(podId);
  }, 120_000);

  // The daemon writes a VM container's log; conmon writes a runc container's, and conmon 2.1.6 keeps
  // the part of an entry that fitted, which the next entry it writes then continues: one entry
  // cut per spell of a full disk at most.
  describe.each([
    ['vm', 0],
    ['runc', 1],
  ])('a container log on a full disk (%s)', (handler, cutEntriesPerSpell) => {
    test('drops the lines written while full, cuts no entry but as the writer allows, and takes lines again once space is freed', async () => {
      const name = `log-${handler}`;
      const counterDir = join(fixture.dirs.dir, name);
      await mkdir(counterDir);
      const podId = await fixture.runPod(name, handler, { logDirectory: join(fixture.dirs.runroot, 'logs', name) });
      const script = 'i=0; while :; do echo "line $i of a container that keeps on writing"; echo $i > /counter/now; i=$((i+1)); sleep 0.02; done';
      const id = await fixture.createContainer(podId, 'writer', ['sh', '-c', script], { mounts: [{ containerPath: '/counter', hostPath: counterDir }] });
      await unary(fixture.client, Runtime.startContainer, { containerId: id });
      const logPath = join(fixture.dirs.runroot, 'logs', name, 'writer.log');
      // The shell empties the file before it writes the next number: a read in between finds no
      // number (a NaN taken as the count when the disk filled failed the case), so read again.
      const counter = async (): Promise<number> => {
        let count = Number.NaN;
        for (let attempt = 0; attempt < COUNTER_READS && Number.isNaN(count); attempt++) {
          count = Number.parseInt(await readFile(join(counterDir, 'now'), 'utf8').catch(() => '-1'), 10);
        }
        return count;
      };
      // The numbers of the lines logged whole, and how many entries are not whole: the last one
      // may be being written as it is read, unless the container has stopped.
      const readLog = async (stopped = false): Promise<{ lines: number[]; cut: number }> => {
        const entries = (await readFile(logPath, 'utf8')).split('\n');
        const last = entries.pop();
        if (stopped) expect(last).toBe('');
        const lines = entries.map((entry) => Number(LINE.exec(ENTRY.exec(entry)?.[2] ?? '')?.[1] ?? Number.NaN));
        return { lines: lines.filter((line) => !Number.isNaN(line)), cut: lines.filter((line) => Number.isNaN(line)).length };
      };
      expect(await waitUntil(async () => (await readLog()).lines.length >= 10, WAIT_MS, POLL_MS)).toBe(true);

      // Many lines go by while the disk is full, more than a page of them; those after it is
      // freed are logged again.
      const fullSpell = async (whileFull: () => Promise<void> = async () => undefined): Promise<void> => {
        await disks().runroot.fill();
        const filledAt = await counter();
        expect(await waitUntil(async () => (await counter()) >= filledAt + LINES_WHILE_FULL, WAIT_MS, POLL_MS)).toBe(true);
        await whileFull();
        const freedAt = await counter();
        await disks().runroot.free();
        expect(await waitUntil(async () => (await readLog()).lines.some((line) => line > freedAt), WAIT_MS, POLL_MS)).toBe(true);
      };
      await fullSpell();
      const { lines, cut } = await readLog();
      expect(cut).toBeLessThanOrEqual(cutEntriesPerSpell);
      // Lines went missing while the disk was full; the rest are in order.
      expect(lines).toEqual([...lines].sort((a, b) => a - b));
      expect(lines.length).toBeLessThan(lines[lines.length - 1] - lines[0] + 1);

      // The kubelet rotates the log away and asks for a new one while the disk is full.
      await rename(logPath, `${logPath}.1`);
      await fullSpell(async () => {
        const reopened = await unary(fixture.client, Runtime.reopenContainerLog, { containerId: id }).then(
          () => Code.OK,
          (error: { code: Code }) => error.code,
        );
        expect([Code.OK, Code.RESOURCE_EXHAUSTED]).toContain(reopened);
      });
      await unary(fixture.client, Runtime.stopContainer, { containerId: id, timeout: 0n });
      expect((await readLog(true)).cut).toBeLessThanOrEqual(cutEntriesPerSpell);
      await fixture.stopAndRemovePod(podId);
    }, BOOT_MS);
  });
});
