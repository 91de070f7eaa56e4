// Records damaged while the daemon was down (cut short, or not JSON at all): at start each is set
// aside under a name of its own with an error line naming it, and the daemon serves all the rest.
import { readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerState, ImageServiceService as Images, ImageSpec, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { pushImage } from '../testbed/test-images';
import { ContainerDaemon } from './support/container-daemon';

const SET_ASIDE = '.corrupt';

describe('records damaged while the daemon was down', () => {
  let fixture: ContainerDaemon;
  // Puts the damaged pod's record back: the daemon knows the pod again and can remove all it has.
  let repairPod: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    fixture = await ContainerDaemon.start('10.219.44.0/24');
  }, 120_000);

  afterAll(async () => {
    try {
      if (repairPod) await fixture.restart(0, 'SIGTERM', repairPod);
    } finally {
      await fixture?.close();
    }
  }, 60_000);

  test('are set aside with an error naming each, and the daemon serves the other pods, containers and images', async () => {
    const { root } = fixture.dirs;
    const other = `${fixture.registryHost}/test/other:latest`;
    await pushImage(fixture.registryHost, 'test/other', 'latest', { layers: [[{ type: 'file', path: 'other', content: 'other' }]] });
    const { imageRef: otherId } = await unary(fixture.client, Images.pullImage, { image: ImageSpec.fromPartial({ image: other }), auth: undefined, sandboxConfig: undefined });

    const kept = await fixture.runPod('kept', 'runc');
    const keptApp = await fixture.createContainer(kept, 'app', ['sleep', '600']);
    await unary(fixture.client, Runtime.startContainer, { containerId: keptApp });
    const damagedApp = await fixture.createContainer(kept, 'damaged-app', ['sleep', '600']);
    const damagedPod = await fixture.runPod('damaged', 'runc');
    const orphan = await fixture.createContainer(damagedPod, 'orphan', ['sleep', '600']);
    await unary(fixture.client, Runtime.startContainer, { containerId: orphan });

    const damaged = {
      pod: join(root, 'pods', `${damagedPod}.json`),
      container: join(root, 'containers', `${damagedApp}.json`),
      image: join(root, 'storage', 'images', `${otherId.replace('sha256:', '')}.json`),
    };
    const podRecord = await readFile(damaged.pod);
    repairPod = () => writeFile(damaged.pod, podRecord);
    await fixture.restart(0, 'SIGTERM', async () => {
      // Cut short, as by a disk that filled or a crash of the filesystem; and not JSON at all.
      await truncate(damaged.pod, Math.floor(podRecord.length / 2));
      await writeFile(damaged.container, 'not a record\n');
      await truncate(damaged.image, 0);
    });

    for (const file of Object.values(damaged)) {
      expect(fixture.daemon.log.split('\n').filter((line) => line.includes(' error ') && line.includes('record set aside') && line.includes(file))).toHaveLength(1);
      expect(await readdir(join(file, '..'))).toContain(`${file.split('/').pop()}${SET_ASIDE}`);
    }
    // The container of the damaged record cannot be managed any more: it is gone, with what it was made of.
    expect(fixture.daemon.log).toContain(`container of a damaged record removed container_id=${damagedApp}`);
    expect(await readdir(join(root, 'storage', 'containers'))).not.toContain(damagedApp);
    expect(await readdir(join(fixture.dirs.runroot, 'handlers', 'runc', 'runtime'))).not.toContain(damagedApp);
    expect(await fixture.podIds()).toEqual([kept]);
    const containers = (await unary(fixture.client, Runtime.listContainers, { filter: undefined })).containers.map((container) => container.id);
    expect(containers.sort()).toEqual([keptApp, orphan].sort());
    const images = (await unary(fixture.client, Images.listImages, { filter: undefined })).images.flatMap((image) => image.repoTags);
    expect(images).toEqual([fixture.image]);

    // What was kept is usable: its container runs and answers, its pod takes new containers.
    const { stdout } = await unary(fixture.client, Runtime.execSync, { containerId: keptApp, cmd: ['echo', 'still here'], timeout: 10n });
    expect(stdout.toString()).toBe('still here\n');
    const again = await fixture.createContainer(kept, 'damaged-app', ['sleep', '600']);
    await unary(fixture.client, Runtime.startContainer, { containerId: again });
    expect((await fixture.status(again)).state).toBe(ContainerState.CONTAINER_RUNNING);
    await unary(fixture.client, Runtime.listContainerStats, { filter: undefined });
    // The image whose record was lost is pulled again.
    await unary(fixture.client, Images.pullImage, { image: ImageSpec.fromPartial({ image: other }), auth: undefined, sandboxConfig: undefined });

    // The container of the pod whose record was lost is removed as the kubelet removes it.
    await unary(fixture.client, Runtime.removeContainer, { containerId: orphan });
    await fixture.stopAndRemovePod(kept);
    expect((await unary(fixture.client, Runtime.listContainers, { filter: undefined })).containers).toEqual([]);

    // A record put back is the pod again, no longer with its container.
    await fixture.restart(0, 'SIGTERM', repairPod);
    repairPod = undefined;
    expect(await fixture.podIds()).toEqual([damagedPod]);
    await fixture.stopAndRemovePod(damagedPod);
  }, 120_000);
});
