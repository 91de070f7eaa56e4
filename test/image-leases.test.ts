// Images in use by containers, through the real daemon's CRI socket: RemoveImage of an image
// that containers run, pulls and removals beside creates, and a daemon killed between them.
// No container may ever lose a file of its image, and no layer may outlive its last user.
import { status as Code } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listProcesses } from '../bench/processes';
import { ContainerState, ImageServiceService, ImageSpec, RuntimeServiceService } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { busyboxLayer, pushImage, type LayerSpec } from '../testbed/test-images';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';

// Big enough that its going shows in ImageFsInfo beyond any noise of metadata.
const BULK_BYTES = 2 * 1024 * 1024;
// The race and the crash rounds take 5-20 s here; a loaded machine must not fail them on time alone.
const LONG_TEST_MS = 120_000;

describe('images in use by containers', () => {
  let fixture: ContainerDaemon | undefined;
  let podId: string;
  let first: string;
  let second: string;
  let firstAppLayer: string;
  let busyboxEntries: string;

  const running = (): ContainerDaemon => {
    if (!fixture) throw new Error('no daemon');
    return fixture;
  };
  const storage = (...parts: string[]): string => join(running().dirs.root, 'storage', ...parts);
  const visible = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((entry) => !entry.startsWith('.')).sort();
  const pull = (image: string) => unary(running().client, ImageServiceService.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined });
  const removeImage = (image: string) => unary(running().client, ImageServiceService.removeImage, { image: ImageSpec.fromPartial({ image }) });
  const imageStatus = async (image: string) => (await unary(running().client, ImageServiceService.imageStatus, { image: ImageSpec.fromPartial({ image }), verbose: false })).image;
  const imageFsUsed = async () => (await unary(running().client, ImageServiceService.imageFsInfo, {})).imageFilesystems[0].usedBytes?.value ?? 0n;
  const create = (image: string, name: string) => running().createContainer(podId, name, ['sleep', '300'], { image: { image } });
  const start = (id: string) => unary(running().client, RuntimeServiceService.startContainer, { containerId: id });
  const removeContainer = (id: string) => unary(running().client, RuntimeServiceService.removeContainer, { containerId: id });
  const containers = async () => (await unary(running().client, RuntimeServiceService.listContainers, { filter: undefined })).containers;
  /** What the container sees of its image: the /bin listing's size and the app layer's file. */
  const rootView = async (id: string): Promise<string> => {
    const result = await unary(running().client, RuntimeServiceService.execSync, { containerId: id, cmd: ['sh', '-c', 'ls /bin | wc -l; cat /etc/app-id'], timeout: 10n });
    return `${result.stdout.toString()}${result.stderr.toString()}exit ${result.exitCode}`;
  };
  const expectedView = (app: string): string => `${busyboxEntries}\n${app}\nexit 0`;
  const appLayer = (id: string, bulk = Buffer.alloc(0)): LayerSpec => [
    { type: 'dir', path: 'etc' },
    { type: 'file', path: 'etc/app-id', content: `${id}\n` },
    { type: 'file', path: 'etc/bulk', content: bulk },
  ];

  /**
   * Nothing of any container or image is left: no layer, blob, rootfs directory, mount,
   * or process (conmon names our directories on its command line; podvisord retitles itself).
   */
  async function expectNothingLeft(): Promise<void> {
    // Removed containers are taken apart after RemoveContainer answers, their leases released last.
    await running().removalsDone();
    expect(await visible(storage('layers'))).toEqual([]);
    expect(await visible(storage('blobs', 'sha256'))).toEqual([]);
    expect(await visible(storage('containers'))).toEqual([]);
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(storage('containers'));
    const ours = (await listProcesses()).filter((process) => process.cmdline.includes(running().dirs.dir));
    expect(ours.map((process) => process.cmdline)).toEqual([]);
  }

  beforeAll(async () => {
    fixture = await ContainerDaemon.start('10.219.24.0/24');
    const host = fixture.registryHost;
    const busybox = await busyboxLayer();
    busyboxEntries = String(busybox.filter((entry) => entry.path.startsWith('bin/')).length);
    // Two images that share the busybox layer, each with a layer of its own.
    const pushed = await pushImage(host, 'team/app', 'first', { layers: [busybox, appLayer('first', randomBytes(BULK_BYTES))] });
    firstAppLayer = pushed.diffIds[1].slice('sha256:'.length);
    await pushImage(host, 'team/app', 'second', { layers: [busybox, appLayer('second')] });
    first = `${host}/team/app:first`;
    second = `${host}/team/app:second`;
    // The fixture's own image shares the busybox layer too; without it, that layer is ours to watch.
    await removeImage(fixture.image);
    podId = await fixture.runPod('leases', '');
  });

  afterAll(() => fixture?.close(), CLOSE_MS);

  test('a running container keeps its whole root after its image is removed, across a daemon crash, and the layers go with the container', async () => {
    await pull(first);
    const id = await create(first, 'keeps');
    await start(id);
    expect(await rootView(id)).toBe(expectedView('first'));

    await removeImage(first);
    expect(await imageStatus(first)).toBeUndefined();
    expect(await rootView(id)).toBe(expectedView('first'));
    // The layers kept for the container still count as the image store's.
    const usedWhileHeld = await imageFsUsed();
    expect(await visible(storage('layers'))).toContain(firstAppLayer);

    await running().restart(0, 'SIGKILL');
    expect(await rootView(id)).toBe(expectedView('first'));
    expect(await visible(storage('layers'))).toContain(firstAppLayer);
    // A create after the removal does not find the image, however many containers hold its layers.
    expect((await grpcFailure(create(first, 'late'))).code).toBe(Code.NOT_FOUND);

    await removeContainer(id);
    await removeContainer(id);
    await expectNothingLeft();
    expect(usedWhileHeld - (await imageFsUsed())).toBeGreaterThanOrEqual(BigInt(BULK_BYTES));
  });

  test('a daemon killed while a removed container is taken apart finishes that at its start; its image, removed meanwhile, keeps the layers until then and leaves nothing after', async () => {
    await pull(first);
    const id = await create(first, 'removed-then-killed');
    await start(id);
    const removalRecord = join(running().dirs.root, 'removed', 'containers', `${id}.json`);
    await removeContainer(id);
    await running().restart(0, 'SIGKILL', async () => {
      // Killed in the window this is about: the answer came before the parts were gone.
      expect(await readFile(removalRecord, 'utf8')).toContain(id);
    });
    expect(await containers()).toEqual([]);
    await removeImage(first);
    const [layers, rootfses] = [await visible(storage('layers')), await visible(storage('containers'))];
    // No root filesystem is ever left without its image's layers under it.
    expect(rootfses.includes(id) && !layers.includes(firstAppLayer)).toBe(false);
    await expectNothingLeft();
    expect(await imageStatus(first)).toBeUndefined();
  });

  test('a container recorded before containers held their layers has them held from the next start', async () => {
    await pull(first);
    const id = await create(first, 'upgraded');
    await start(id);
    const recordFile = join(running().dirs.root, 'containers', `${id}.json`);
    await running().restart(0, 'SIGKILL', async () => {
      const { imageLayers, ...older } = JSON.parse(await readFile(recordFile, 'utf8')) as Record<string, unknown>;
      expect(imageLayers).toHaveLength(2);
      await writeFile(recordFile, JSON.stringify(older));
    });
    await removeImage(first);
    expect(await rootView(id)).toBe(expectedView('first'));
    await removeContainer(id);
    await expectNothingLeft();
  });

  test('pulls and removals of images sharing layers, beside creates from them: every container starts whole and nothing is left', async () => {
    let churning = true;
    // Two clients pull and remove an image each, both sharing the busybox layer.
    const churn = (image: string) =>
      (async () => {
        for (let round = 0; churning && round < 500; round++) {
          await pull(image);
          // A pull ends with the whole image, whatever the other client removed meanwhile.
          expect((await imageStatus(image))?.id).toMatch(/^sha256:/);
          await removeImage(image);
        }
      })();
    const churns = [churn(first), churn(second)];
    const outcomes: string[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const [image, app] = i % 2 === 0 ? [first, 'first'] : [second, 'second'];
        let id: string | undefined;
        for (let tries = 0; id === undefined && tries < 200; tries++) {
          try {
            id = await create(image, `racer-${i}`);
          } catch (error) {
            // While the image is absent, and only then, a create fails: NotFound.
            expect((error as { code?: number }).code).toBe(Code.NOT_FOUND);
            await sleep(5);
          }
        }
        if (id === undefined) throw new Error(`no create of ${image} found it present in 200 tries`);
        await start(id);
        outcomes.push(await rootView(id));
        expect(outcomes.at(-1)).toBe(expectedView(app));
        await removeContainer(id);
      }
    } finally {
      churning = false;
      await Promise.all(churns);
    }
    expect(outcomes).toHaveLength(12);
    await expectNothingLeft();
  }, LONG_TEST_MS);

  test('a daemon killed among creates and an image removal comes back with every container whole, and removals then leave nothing', async () => {
    for (const [round, delayMs] of [15, 60, 150, 400].entries()) {
      await pull(first);
      const client = running().client;
      const creates = [0, 1, 2, 3].map(async (i) => {
        const id = await create(first, `crash-${round}-${i}`);
        await unary(client, RuntimeServiceService.startContainer, { containerId: id });
      });
      const removal = sleep(delayMs / 2).then(() => unary(client, ImageServiceService.removeImage, { image: ImageSpec.fromPartial({ image: first }) }));
      await sleep(delayMs);
      await running().restart(0, 'SIGKILL');
      await Promise.allSettled([...creates, removal]);

      for (const container of await containers()) {
        if (container.state === ContainerState.CONTAINER_CREATED) await start(container.id);
        expect(await rootView(container.id)).toBe(expectedView('first'));
      }
      for (const container of await containers()) await removeContainer(container.id);
      await removeImage(first);
      await expectNothingLeft();
    }
  }, LONG_TEST_MS);
});
