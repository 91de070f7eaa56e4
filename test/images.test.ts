// The ImageService of the real daemon against a real registry (Debian's docker-registry on
// 127.0.0.1), with registries.conf mirroring public registries to it.
import { status as Code, type Client } from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { appendFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { ImageServiceService, ImageSpec, type Image } from '../proto/gen/cri-api-v1';
import { pathExists } from '../system/path-exists';
import { grpcFailure } from './support/grpc-failure';
import { criClient, unary } from '../testbed/cri-client';
import { DaemonProcess, isolatingFlags, removeDirs, testDirs, type TestDirs } from '../testbed/daemon-process';
import { closeServer, forward, listenLocal } from '../testbed/http';
import { pushBlob, pushImage, pushManifest, sha256, type PushedImage } from '../testbed/test-images';
import { startRegistry, type TestRegistry } from '../testbed/test-registry';

const fileLayer = (name: string, content: string) => [{ type: 'dir' as const, path: 'etc' }, { type: 'file' as const, path: `etc/${name}`, content }];

/** A gzip'd layer whose first entry climbs out of the layer directory. */
async function hostileLayer(): Promise<{ blob: Buffer; diffId: string }> {
  const tar = pack();
  tar.entry({ name: '../../escaped-by-layer', type: 'file' }, 'pwned');
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  const plain = Buffer.concat(chunks);
  return { blob: gzipSync(plain), diffId: sha256(plain) };
}

describe('ImageService', () => {
  let registry: TestRegistry;
  let dirs: TestDirs;
  let daemon: DaemonProcess;
  let client: Client;
  let base: PushedImage;
  let app: PushedImage;
  let slow: PushedImage;

  const pull = (image: string) => unary(client, ImageServiceService.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined });
  const status = async (image: string, verbose = false) =>
    unary(client, ImageServiceService.imageStatus, { image: ImageSpec.fromPartial({ image }), verbose });
  const list = async (): Promise<Image[]> => (await unary(client, ImageServiceService.listImages, { filter: undefined })).images;
  const remove = (image: string) => unary(client, ImageServiceService.removeImage, { image: ImageSpec.fromPartial({ image }) });
  const layerDirs = async () => (await readdir(join(dirs.root, 'storage', 'layers'))).filter((entry) => !entry.startsWith('.'));

  beforeAll(async () => {
    registry = await startRegistry();
    base = await pushImage(registry.host, 'e2e/base', '1.0', { layers: [fileLayer('base', 'base layer')], config: { config: { User: '1002' } } });
    app = await pushImage(registry.host, 'team/app', 'v1', {
      layers: [fileLayer('base', 'base layer'), fileLayer('app', 'app layer')],
      config: { config: { User: 'www-data:www-data', Cmd: ['sh'] } },
    });
    await pushImage(registry.host, 'team/app', 'v2', { layers: [fileLayer('app2', 'second')], format: 'docker' });
    await pushImage(registry.host, 'pause', '3.10', { layers: [fileLayer('pause', 'pause')] });
    slow = await pushImage(registry.host, 'team/slow', 'v1', { layers: [fileLayer('slow', 'never arrives')] });
    dirs = await testDirs();
    const registriesConf = join(dirs.dir, 'registries.conf');
    await writeFile(
      registriesConf,
      [
        '[[registry]]',
        'prefix = "registry.k8s.io"',
        'location = "registry.k8s.io"',
        '[[registry.mirror]]',
        `location = "${registry.host}"`,
        'insecure = true',
        '[[registry]]',
        `location = "${registry.host}"`,
        'insecure = true',
        '[[registry]]',
        'location = "quay.io"',
        'blocked = true',
      ].join('\n'),
    );
    await writeFile(dirs.configFile, `[image]\npinned_images = ["${registry.host}/e2e/base:1.0"]\npull_progress_timeout_seconds = 2\n`);
    daemon = await DaemonProcess.serving([
      ...isolatingFlags(dirs),
      '--registries-conf',
      registriesConf,
      '--registries-conf-dir',
      join(dirs.dir, 'registries.d'),
      '--log-level',
      'debug',
    ]);
    client = criClient(dirs.socket);
  });

  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await registry?.stop();
    if (dirs) await removeDirs(dirs);
  });

  test('a pull through a mirror returns the image ID, and the image is listed with its tag and repo digest', async () => {
    const { imageRef } = await pull('registry.k8s.io/e2e/base:1.0');
    expect(imageRef).toBe(base.configDigest);
    const image = (await list()).find((candidate) => candidate.id === base.configDigest);
    expect(image).toMatchObject({
      repoTags: ['registry.k8s.io/e2e/base:1.0'],
      repoDigests: [`registry.k8s.io/e2e/base@${base.manifestDigest}`],
      uid: { value: 1002n },
      username: '',
    });
    expect(image?.size).toBeGreaterThan(0n);
  });

  test('ImageStatus finds an image by tag, ID, ID prefix and repo digest; an unknown one is an empty answer', async () => {
    await pull('registry.k8s.io/e2e/base:1.0');
    const hex = base.configDigest.slice('sha256:'.length);
    for (const name of ['registry.k8s.io/e2e/base:1.0', base.configDigest, hex, hex.slice(0, 12), `registry.k8s.io/e2e/base@${base.manifestDigest}`]) {
      expect((await status(name)).image?.id).toBe(base.configDigest);
    }
    expect(await status('registry.k8s.io/e2e/nothing:1')).toEqual({ image: undefined, info: {} });
  });

  test('verbose ImageStatus carries the image config; the user name is reported as username', async () => {
    await pull(`${registry.host}/team/app:v1`);
    const response = await status(`${registry.host}/team/app:v1`, true);
    expect(response.image).toMatchObject({ id: app.configDigest, username: 'www-data', uid: undefined });
    const info = JSON.parse(response.info.info) as { imageSpec: { config: { Cmd: string[] } }; layers: { diffId: string }[] };
    expect(info.imageSpec.config.Cmd).toEqual(['sh']);
    expect(info.layers.map((layer) => layer.diffId)).toEqual(app.diffIds);
  });

  test('a layer two images share is unpacked once', async () => {
    await pull('registry.k8s.io/e2e/base:1.0');
    await pull(`${registry.host}/team/app:v1`);
    const shared = app.diffIds[0].slice('sha256:'.length);
    expect(base.diffIds[0]).toBe(app.diffIds[0]);
    const layers = await layerDirs();
    expect(layers.filter((layer) => layer === shared)).toHaveLength(1);
    expect(layers).toEqual(expect.arrayContaining(app.diffIds.map((id) => id.slice('sha256:'.length))));
  });

  test('concurrent pulls of one image share one download and agree on the ID', async () => {
    await remove(`${registry.host}/team/app:v2`);
    const refs = await Promise.all([1, 2, 3].map(() => pull(`${registry.host}/team/app:v2`)));
    expect(new Set(refs.map((ref) => ref.imageRef)).size).toBe(1);
    const pulling = daemon.log.split('\n').filter((line) => line.includes('pulling image') && line.includes('team/app:v2'));
    expect(pulling).toHaveLength(1);
  });

  test('Docker schema2 images pull as well as OCI ones', async () => {
    const { imageRef } = await pull(`${registry.host}/team/app:v2`);
    const image = (await status(imageRef)).image;
    expect(image?.repoTags).toEqual([`${registry.host}/team/app:v2`]);
  });

  test('removing one tag of several keeps the image; removing by ID removes it and collects its layers', async () => {
    await pull(`${registry.host}/e2e/base:1.0`);
    await pull('registry.k8s.io/e2e/base:1.0');
    expect((await status(base.configDigest)).image?.repoTags.sort()).toEqual([`${registry.host}/e2e/base:1.0`, 'registry.k8s.io/e2e/base:1.0'].sort());
    await remove('registry.k8s.io/e2e/base:1.0');
    expect((await status(base.configDigest)).image?.repoTags).toEqual([`${registry.host}/e2e/base:1.0`]);

    await remove(`${registry.host}/team/app:v2`);
    const appOnly = app.diffIds[1].slice('sha256:'.length);
    await pull(`${registry.host}/team/app:v1`);
    expect(await layerDirs()).toContain(appOnly);
    await remove(app.configDigest);
    expect(await status(app.configDigest)).toEqual({ image: undefined, info: {} });
    expect(await layerDirs()).not.toContain(appOnly);
    // The base layer is still used by the base image.
    expect(await layerDirs()).toContain(base.diffIds[0].slice('sha256:'.length));
    await expect(remove(app.configDigest)).resolves.toEqual({});
  });

  test('an image on the pinned list, and the pause image, are reported pinned', async () => {
    await pull(`${registry.host}/e2e/base:1.0`);
    expect((await status(`${registry.host}/e2e/base:1.0`)).image?.pinned).toBe(true);
    await pull('registry.k8s.io/pause:3.10');
    expect((await status('registry.k8s.io/pause:3.10')).image?.pinned).toBe(true);
    await pull(`${registry.host}/team/app:v1`);
    expect((await status(`${registry.host}/team/app:v1`)).image?.pinned).toBe(false);
  });

  test('a malformed reference is InvalidArgument naming it; a blocked registry is refused by name', async () => {
    const bad = await grpcFailure(pull('UPPER/Case:tag'));
    expect(bad.code).toBe(Code.INVALID_ARGUMENT);
    expect(bad.details).toContain('UPPER/Case:tag');
    const blocked = await grpcFailure(pull('quay.io/team/app:1'));
    expect(blocked.code).toBe(Code.FAILED_PRECONDITION);
    expect(blocked.details).toContain('quay.io');
    const missing = await grpcFailure(pull(`${registry.host}/team/absent:1`));
    expect(missing.code).toBe(Code.NOT_FOUND);
  });

  test('a layer that writes outside its directory fails the pull, naming the entry, and leaves nothing', async () => {
    const layer = await hostileLayer();
    const layerDigest = await pushBlob(registry.host, 'evil/escape', layer.blob);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
    const configDigest = await pushBlob(registry.host, 'evil/escape', config);
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.blob.length }],
    };
    await pushManifest(registry.host, 'evil/escape', 'latest', manifest.mediaType, Buffer.from(JSON.stringify(manifest)));
    const before = await layerDirs();
    const error = await grpcFailure(pull(`${registry.host}/evil/escape:latest`));
    expect(error.details).toContain('../../escaped-by-layer');
    expect(await status(`${registry.host}/evil/escape:latest`)).toEqual({ image: undefined, info: {} });
    expect(await layerDirs()).toEqual(before);
    expect(await pathExists(join(dirs.root, 'storage', 'escaped-by-layer'))).toBe(false);
    expect(await pathExists(join(dirs.root, 'escaped-by-layer'))).toBe(false);
    expect(await readdir(join(dirs.root, 'storage', 'ingest'))).toEqual([]);
  });

  /**
   * Runs `use` with a front for the registry that serves everything but the slow image's
   * layer, whose body starts and then never goes on.
   */
  async function withStallingFront(use: (host: string) => Promise<void>): Promise<void> {
    const held: ServerResponse[] = [];
    const front = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.includes(slow.layerDigests[0])) {
        forward(req, res, registry.host);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '1000000' });
      res.write(Buffer.alloc(10));
      held.push(res);
    });
    const host = await listenLocal(front);
    // registries.conf is read afresh for each pull, so the front can be added now.
    await appendFile(join(dirs.dir, 'registries.conf'), `\n[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
    try {
      await use(host);
    } finally {
      for (const res of held) res.destroy();
      await closeServer(front);
    }
  }

  test('a pull that stalls past the progress timeout is cancelled with DeadlineExceeded', async () => {
    await withStallingFront(async (host) => {
      const error = await grpcFailure(pull(`${host}/team/slow:v1`));
      expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
      expect(error.details).toMatch(/made no progress for 2 s/);
      expect(await readdir(join(dirs.root, 'storage', 'ingest'))).toEqual([]);
    });
  });

  test('a daemon killed mid-pull restarts clean, and the image then pulls whole', async () => {
    await withStallingFront(async (host) => {
      const pending = grpcFailure(pull(`${host}/team/slow:v1`));
      await daemon.waitForOutput('team/slow:v1');
      client.close();
      await daemon.stop('SIGKILL');
      await pending;
      daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--registries-conf', join(dirs.dir, 'registries.conf')]);
      client = criClient(dirs.socket);
    });
    expect(await readdir(join(dirs.root, 'storage', 'ingest'))).toEqual([]);
    expect((await readdir(join(dirs.root, 'storage', 'layers'))).filter((entry) => entry.startsWith('.'))).toEqual([]);
    expect(await status(`${registry.host}/team/slow:v1`)).toEqual({ image: undefined, info: {} });
    const { imageRef } = await pull(`${registry.host}/team/slow:v1`);
    expect(imageRef).toBe(slow.configDigest);
    expect(await layerDirs()).toContain(slow.diffIds[0].slice('sha256:'.length));
  });

  test('ImageFsInfo reports the bytes, inodes and mount point of the image store', async () => {
    await pull(`${registry.host}/team/app:v1`);
    const info = await unary(client, ImageServiceService.imageFsInfo, {});
    const [fs] = info.imageFilesystems;
    expect(fs.usedBytes?.value).toBeGreaterThan(0n);
    expect(fs.inodesUsed?.value).toBeGreaterThan(5n);
    expect(fs.fsId?.mountpoint).toMatch(/^\//);
    expect(fs.timestamp).toBeGreaterThan(1_700_000_000_000_000_000n);
  });

  test('images survive a daemon restart', async () => {
    await pull(`${registry.host}/team/app:v1`);
    const before = (await list()).map((image) => image.id).sort();
    client.close();
    await daemon.stop();
    daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--registries-conf', join(dirs.dir, 'registries.conf')]);
    client = criClient(dirs.socket);
    expect((await list()).map((image) => image.id).sort()).toEqual(before);
    expect((await status(`${registry.host}/team/app:v1`)).image?.id).toBe(app.configDigest);
  });
});
