import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { hostPlatform } from '../storage/image-manifest';
import { parseImageReference } from '../storage/image-reference';
import { loadRegistriesConf, pullSources, type PullSource } from '../storage/registries-conf';
import { RegistryClient, type RegistryClientOptions, type ResolvedImage } from '../storage/registry-client';
import { DeadlineExceededError, FailedPreconditionError, InternalError, NotFoundError, UnavailableError } from '../system/errors';
import { createLogger, type Logger } from '../system/logger';
import { startFaultyProxy, type FaultOptions, type FaultyProxy } from './support/faulty-proxy';
import { closeServer, freePort, listenLocal } from '../testbed/http';
import { busyboxLayer, pushImage, pushIndex, sha256, type PushedImage } from '../testbed/test-images';
import { startRegistry, type TestRegistry } from '../testbed/test-registry';
import { startTokenFront, type TokenFront } from './support/token-registry';

interface CapturedLog {
  logger: Logger;
  text: () => string;
}

function captureLog(): CapturedLog {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { logger: createLogger('debug', 'text', stream), text: () => text };
}

function client(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({ logger: captureLog().logger, ...options });
}

const source = (host: string, repository: string, insecure = true): PullSource => ({ host, repository, insecure, mirror: false });

async function expectRejection(promise: Promise<unknown>, kind: new (...args: never[]) => Error, ...fragments: string[]): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(kind);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
  return error as Error;
}

describe('RegistryClient against docker-registry', () => {
  let registry: TestRegistry;
  let app: PushedImage;
  let scratch: string;

  beforeAll(async () => {
    registry = await startRegistry();
    app = await pushImage(registry.host, 'app', 'v1', {
      layers: [await busyboxLayer(), [{ type: 'dir', path: 'etc' }, { type: 'file', path: 'etc/motd', content: 'hello from app\n' }]],
      config: { config: { Cmd: ['/bin/sh', '-c', 'cat /etc/motd'] } },
    });
  });
  afterAll(() => registry.stop());
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'podvisor-pull-'));
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  /** Downloads the config and every layer, and answers the sha256 of each file as written. */
  async function downloadAll(registryClient: RegistryClient, image: ResolvedImage): Promise<string[]> {
    const digests: string[] = [];
    for (const [i, descriptor] of [image.config, ...image.layers].entries()) {
      const file = join(scratch, `blob-${i}`);
      await registryClient.downloadBlob(image.source, descriptor, file);
      digests.push(sha256(await readFile(file)));
    }
    return digests;
  }

  test('pulls an OCI image by tag: the manifest matches what was pushed and every blob arrives intact', async () => {
    const registryClient = client();
    const image = await registryClient.resolve([source(registry.host, 'app')], parseImageReference(`${registry.host}/app:v1`));
    expect(image.topDigest).toBe(app.manifestDigest);
    expect(image.manifestDigest).toBe(app.manifestDigest);
    expect(image.manifestMediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(sha256(image.manifestBytes)).toBe(app.manifestDigest);
    expect(image.config.digest).toBe(app.configDigest);
    expect(image.layers.map((layer) => layer.digest)).toEqual(app.layerDigests);
    expect(await downloadAll(registryClient, image)).toEqual([app.configDigest, ...app.layerDigests]);
  });

  test('reports download progress up to the blob size', async () => {
    const registryClient = client();
    const image = await registryClient.resolve([source(registry.host, 'app')], parseImageReference(`${registry.host}/app:v1`));
    const busybox = image.layers[0];
    const seen: number[] = [];
    await registryClient.downloadBlob(image.source, busybox, join(scratch, 'layer'), { onProgress: (bytes) => seen.push(bytes) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen[seen.length - 1]).toBe(busybox.size);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  test('pulls by digest, alone or with a tag, to the same manifest', async () => {
    const registryClient = client();
    for (const name of [`${registry.host}/app@${app.manifestDigest}`, `${registry.host}/app:ignored@${app.manifestDigest}`]) {
      const image = await registryClient.resolve([source(registry.host, 'app')], parseImageReference(name));
      expect(image.topDigest).toBe(app.manifestDigest);
      expect(image.config.digest).toBe(app.configDigest);
    }
  });

  test('pulls a Docker schema 2 image', async () => {
    const legacy = await pushImage(registry.host, 'legacy', 'v1', { format: 'docker', layers: [[{ type: 'file', path: 'hello', content: 'docker format' }]] });
    const registryClient = client();
    const image = await registryClient.resolve([source(registry.host, 'legacy')], parseImageReference(`${registry.host}/legacy:v1`));
    expect(image.manifestMediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(image.config).toMatchObject({ mediaType: 'application/vnd.docker.container.image.v1+json', digest: legacy.configDigest });
    expect(image.layers[0].mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    expect(await downloadAll(registryClient, image)).toEqual([legacy.configDigest, ...legacy.layerDigests]);
  });

  test.each(['oci', 'docker'] as const)('from a multi-platform %s index picks this machine, or the platform asked for, and lists what exists when none fits', async (format) => {
    const repository = `multi-${format}`;
    const layer = (arch: string): { type: 'file'; path: string; content: string }[] => [{ type: 'file', path: 'arch', content: arch }];
    const amd64 = await pushImage(registry.host, repository, 'amd64', { format, platform: { os: 'linux', architecture: 'amd64' }, layers: [layer('amd64')] });
    const arm64 = await pushImage(registry.host, repository, 'arm64', { format, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [layer('arm64')] });
    const index = await pushIndex(
      registry.host,
      repository,
      'v1',
      [
        { digest: amd64.manifestDigest, size: amd64.manifestSize, mediaType: amd64.manifestMediaType, platform: { os: 'linux', architecture: 'amd64' } },
        { digest: arm64.manifestDigest, size: arm64.manifestSize, mediaType: arm64.manifestMediaType, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
      { format },
    );
    const ref = parseImageReference(`${registry.host}/${repository}:v1`);
    const sources = [source(registry.host, repository)];

    const native = await client().resolve(sources, ref);
    expect(native.topDigest).toBe(index.digest);
    expect(native.manifestDigest).toBe(hostPlatform().architecture === 'arm64' ? arm64.manifestDigest : amd64.manifestDigest);

    const arm = await client({ platform: { os: 'linux', architecture: 'arm64' } }).resolve(sources, ref);
    expect(arm.manifestDigest).toBe(arm64.manifestDigest);
    expect(arm.config.digest).toBe(arm64.configDigest);

    await expectRejection(
      client({ platform: { os: 'linux', architecture: 's390x' } }).resolve(sources, ref),
      FailedPreconditionError,
      'no image for linux/s390x; available: linux/amd64, linux/arm64/v8',
    );
    await expectRejection(client({ platform: { os: 'linux', architecture: 'arm64', variant: 'v9' } }).resolve(sources, ref), FailedPreconditionError, 'linux/arm64/v9');
  });

  test('an image no source has is NotFound, naming every source tried', async () => {
    await expectRejection(
      client().resolve([source(registry.host, 'app'), source(registry.host, 'other')], parseImageReference(`${registry.host}/app:nope`)),
      NotFoundError,
      `image "${registry.host}/app:nope" not found in any of: ${registry.host}, ${registry.host}`,
    );
  });

  describe('mirrors from registries.conf', () => {
    let empty: TestRegistry;
    let mirror: TestRegistry;
    let confDir: string;
    let deadHost: string;

    beforeAll(async () => {
      [empty, mirror] = await Promise.all([startRegistry(), startRegistry()]);
      await pushImage(mirror.host, 'cache/app', 'v1', { layers: [[{ type: 'file', path: 'from', content: 'mirror' }]] });
      deadHost = `127.0.0.1:${await freePort()}`;
      confDir = await mkdtemp(join(tmpdir(), 'podvisor-mirrors-'));
    });
    afterAll(async () => {
      await Promise.all([empty.stop(), mirror.stop(), rm(confDir, { recursive: true, force: true })]);
    });

    async function sourcesFor(mirrors: string[], image: string): Promise<PullSource[]> {
      const mirrorTables = mirrors.map((location) => `[[registry.mirror]]\nlocation = "${location}"\ninsecure = true\n`).join('');
      await writeFile(join(confDir, 'registries.conf'), `[[registry]]\nprefix = "images.example"\nlocation = "${registry.host}"\ninsecure = true\n${mirrorTables}`);
      const conf = await loadRegistriesConf(join(confDir, 'registries.conf'), join(confDir, 'registries.conf.d'));
      return pullSources(conf, parseImageReference(image));
    }

    test('a mirror that is down and one without the image are passed over for the registry', async () => {
      const log = captureLog();
      const sources = await sourcesFor([deadHost, empty.host], 'images.example/app:v1');
      const image = await new RegistryClient({ logger: log.logger }).resolve(sources, parseImageReference('images.example/app:v1'));
      expect(image.source).toEqual({ host: registry.host, repository: 'app', insecure: true, mirror: false });
      expect(image.topDigest).toBe(app.manifestDigest);
      const failures = log.text().split('\n').filter((line) => line.includes('image source failed'));
      expect(failures).toHaveLength(2);
      expect(failures[0]).toContain(`host=${deadHost}`);
      expect(failures[1]).toContain(`host=${empty.host}`);
    });

    test('the first mirror that has the image serves it', async () => {
      const sources = await sourcesFor([deadHost, `${mirror.host}/cache`, empty.host], 'images.example/app:v1');
      const image = await client().resolve(sources, parseImageReference('images.example/app:v1'));
      expect(image.source).toEqual({ host: mirror.host, repository: 'cache/app', insecure: true, mirror: true });
    });

    test('when the registry itself does not have it either, the error says what each source answered', async () => {
      const sources = await sourcesFor([deadHost], 'images.example/missing:v1');
      await expectRejection(
        client().resolve(sources, parseImageReference('images.example/missing:v1')),
        NotFoundError,
        `${deadHost}: cannot connect to ${deadHost}`,
        `${registry.host}: manifest v1 of ${registry.host}/missing not found`,
      );
    });
  });

  describe('HTTP and HTTPS', () => {
    test('a secure source refuses a plain-HTTP registry, saying how to allow it', async () => {
      await expectRejection(
        client().resolve([source(registry.host, 'app', false)], parseImageReference(`${registry.host}/app:v1`)),
        InternalError,
        `TLS handshake with ${registry.host} failed`,
        `mark ${registry.host} insecure in registries.conf`,
      );
    });

    test('an insecure source tries TLS once per host, then remembers plain HTTP', async () => {
      const proxy = await startFaultyProxy(registry.host, {});
      try {
        const registryClient = client();
        const ref = parseImageReference(`${proxy.host}/app:v1`);
        const first = await registryClient.resolve([source(proxy.host, 'app')], ref);
        await registryClient.resolve([source(proxy.host, 'app')], ref);
        await registryClient.downloadBlob(first.source, first.config, join(scratch, 'config'));
        expect(proxy.nonHttpConnections).toBe(1);
      } finally {
        await proxy.stop();
      }
    });

    test('an HTTPS registry with a self-signed certificate: insecure sources accept it, secure ones refuse it', async () => {
      const tlsRegistry = await startRegistry({ selfSignedTls: true });
      try {
        const pushed = await pushImage(`https://${tlsRegistry.host}`, 'app', 'v1', { layers: [[{ type: 'file', path: 'tls', content: 'yes' }]] });
        const ref = parseImageReference(`${tlsRegistry.host}/app:v1`);
        const registryClient = client();
        const image = await registryClient.resolve([source(tlsRegistry.host, 'app')], ref);
        expect(image.topDigest).toBe(pushed.manifestDigest);
        expect(await downloadAll(registryClient, image)).toEqual([pushed.configDigest, ...pushed.layerDigests]);
        await expectRejection(client().resolve([source(tlsRegistry.host, 'app', false)], ref), InternalError, `TLS handshake with ${tlsRegistry.host} failed`, 'self-signed certificate');
      } finally {
        await tlsRegistry.stop();
      }
    });
  });

  describe('Basic authentication (htpasswd)', () => {
    const account = { user: 'alice', password: 'wonderland-Pa55' };
    let secured: TestRegistry;
    let pushed: PushedImage;

    beforeAll(async () => {
      secured = await startRegistry({ htpasswd: account });
      pushed = await pushImage(secured.host, 'private/app', 'v1', { basicAuth: account, layers: [[{ type: 'file', path: 'secret', content: 'classified' }]] });
    });
    afterAll(() => secured.stop());

    const ref = (): ReturnType<typeof parseImageReference> => parseImageReference(`${secured.host}/private/app:v1`);

    test('the right username and password, or the same as a docker "auth" string, pull the image', async () => {
      const base64 = Buffer.from(`${account.user}:${account.password}`).toString('base64');
      for (const credentials of [{ username: account.user, password: account.password }, { auth: base64 }]) {
        const registryClient = client({ credentials });
        const image = await registryClient.resolve([source(secured.host, 'private/app')], ref());
        expect(image.topDigest).toBe(pushed.manifestDigest);
        expect(await downloadAll(registryClient, image)).toEqual([pushed.configDigest, ...pushed.layerDigests]);
      }
    });

    test('wrong or missing credentials are refused naming the registry, and no credential reaches the log', async () => {
      const log = captureLog();
      const wrong = new RegistryClient({ logger: log.logger, credentials: { username: account.user, password: 'not-the-Pa55' } });
      const error = await expectRejection(
        wrong.resolve([source(secured.host, 'private/app')], ref()),
        FailedPreconditionError,
        `registry ${secured.host} denied pulling private/app with the given credentials: HTTP 401`,
      );
      expect(error.message).not.toContain('not-the-Pa55');
      await expectRejection(client().resolve([source(secured.host, 'private/app')], ref()), FailedPreconditionError, `registry ${secured.host} requires a username and password`);

      const right = new RegistryClient({ logger: log.logger, credentials: { username: account.user, password: account.password } });
      const image = await right.resolve([source(secured.host, 'private/app')], ref());
      await right.downloadBlob(image.source, image.layers[0], join(scratch, 'layer'));
      const text = log.text();
      expect(text).toContain('image resolved');
      expect(text).toContain('image source failed');
      for (const secret of [account.password, 'not-the-Pa55', Buffer.from(`${account.user}:${account.password}`).toString('base64'), 'Basic ']) {
        expect(text).not.toContain(secret);
      }
    });
  });

  describe('Bearer tokens through a token service', () => {
    const account = { user: 'bob', password: 'b0b-secret-pw' };
    const registryToken = 'pre-issued-registry-token-7f3a';
    const identityToken = 'refresh-token-for-bob-91c2';
    let front: TokenFront;

    beforeEach(async () => {
      front = await startTokenFront(registry.host, { ...account, registryToken, identityToken });
    });
    afterEach(() => front.stop());

    const ref = (): ReturnType<typeof parseImageReference> => parseImageReference(`${front.host}/app:v1`);

    test('anonymous pulls are denied, naming the registry', async () => {
      await expectRejection(client().resolve([source(front.host, 'app')], ref()), FailedPreconditionError, `registry ${front.host} denied pulling app without credentials: HTTP 401`);
    });

    test('with credentials, a token is obtained for the repository and reused while valid', async () => {
      const log = captureLog();
      const registryClient = new RegistryClient({ logger: log.logger, credentials: { username: account.user, password: account.password } });
      const image = await registryClient.resolve([source(front.host, 'app')], ref());
      expect(image.topDigest).toBe(app.manifestDigest);
      expect(await downloadAll(registryClient, image)).toEqual([app.configDigest, ...app.layerDigests]);
      await registryClient.resolve([source(front.host, 'app')], ref());
      expect(front.tokenRequests).toHaveLength(1);
      expect(front.tokenRequests[0].method).toBe('GET');
      expect(Object.fromEntries(front.tokenRequests[0].params)).toEqual({ service: 'test-registry', scope: 'repository:app:pull' });
      const text = log.text();
      expect(text).toContain('registry token obtained');
      for (const secret of [account.password, 'Bearer', 'Basic ']) expect(text).not.toContain(secret);
    });

    test('wrong credentials are refused by the token service, and the error says so', async () => {
      await expectRejection(
        client({ credentials: { username: account.user, password: 'guess' } }).resolve([source(front.host, 'app')], ref()),
        FailedPreconditionError,
        `token service http://${front.host}/token for registry ${front.host} refused the given credentials (HTTP 401)`,
      );
    });

    test('a registry token is sent as the bearer without asking the token service', async () => {
      const log = captureLog();
      const image = await new RegistryClient({ logger: log.logger, credentials: { registryToken } }).resolve([source(front.host, 'app')], ref());
      expect(image.topDigest).toBe(app.manifestDigest);
      expect(front.tokenRequests).toHaveLength(0);
      expect(front.registryRequests.map((headers) => headers.authorization)).toContain(`Bearer ${registryToken}`);
      expect(log.text()).not.toContain(registryToken);
    });

    test('credentials given for the registry are not sent to its mirrors', async () => {
      const asMirror = { ...source(front.host, 'app'), mirror: true };
      const registryClient = client({ credentials: { username: account.user, password: account.password } });
      await expectRejection(registryClient.resolve([asMirror], ref()), FailedPreconditionError, `registry ${front.host} denied pulling app without credentials`);
      expect(front.tokenRequests.map((tokenRequest) => tokenRequest.authorization)).toEqual([undefined]);
    });

    test('an identity token is exchanged with a refresh_token grant', async () => {
      const image = await client({ credentials: { identityToken } }).resolve([source(front.host, 'app')], ref());
      expect(image.topDigest).toBe(app.manifestDigest);
      expect(front.tokenRequests).toHaveLength(1);
      expect(front.tokenRequests[0].method).toBe('POST');
      expect(Object.fromEntries(front.tokenRequests[0].params)).toEqual({
        grant_type: 'refresh_token',
        refresh_token: identityToken,
        service: 'test-registry',
        scope: 'repository:app:pull',
        client_id: 'podvisor',
      });
    });
  });

  test('a blob redirected to another host is fetched there without our Authorization header', async () => {
    const front = await startTokenFront(registry.host, { user: 'carol', password: 'c4rol-pw', redirectBlobs: true });
    try {
      const registryClient = client({ credentials: { username: 'carol', password: 'c4rol-pw' } });
      const image = await registryClient.resolve([source(front.host, 'app')], parseImageReference(`${front.host}/app:v1`));
      expect(await downloadAll(registryClient, image)).toEqual([app.configDigest, ...app.layerDigests]);
      expect(front.blobStore.requests).toHaveLength(1 + app.layerDigests.length);
      for (const headers of front.blobStore.requests) expect(headers.authorization).toBeUndefined();
      const blobRequestsAtRegistry = front.registryRequests.filter((headers) => headers.authorization?.startsWith('Bearer '));
      expect(blobRequestsAtRegistry.length).toBeGreaterThan(front.blobStore.requests.length);
    } finally {
      await front.stop();
    }
  });

  describe('failures on the way', () => {
    let proxy: FaultyProxy | undefined;
    afterEach(async () => {
      await proxy?.stop();
      proxy = undefined;
    });

    async function through(faults: FaultOptions): Promise<{ host: string; resolve: (c?: RegistryClient) => Promise<ResolvedImage> }> {
      proxy = await startFaultyProxy(registry.host, faults);
      const host = proxy.host;
      return { host, resolve: (c = client()) => c.resolve([source(host, 'app')], parseImageReference(`${host}/app:v1`)) };
    }

    const blobPath = (digest: string): RegExp => new RegExp(`/blobs/${digest}$`);

    test('5xx and 429 answers are retried, for manifests and blobs', async () => {
      const configPath = blobPath(app.configDigest);
      const front = await through({ failFirst: { count: 2, path: /\/manifests\/|\/blobs\//, status: 503 } });
      const image = await front.resolve();
      expect(image.topDigest).toBe(app.manifestDigest);
      await proxy?.stop();
      proxy = await startFaultyProxy(registry.host, { failFirst: { count: 2, path: configPath, status: 429 } });
      const file = join(scratch, 'config');
      await client().downloadBlob(source(proxy.host, 'app'), image.config, file);
      expect(sha256(await readFile(file))).toBe(app.configDigest);
      expect(proxy.requests.filter((path) => configPath.test(path))).toHaveLength(3);
    });

    test('a connection cut mid-blob restarts the download', async () => {
      const front = await through({ dropBlobs: 1 });
      const image = await front.resolve();
      const file = join(scratch, 'layer');
      await client().downloadBlob(image.source, image.layers[0], file);
      expect(sha256(await readFile(file))).toBe(app.layerDigests[0]);
      expect(proxy?.requests.filter((path) => blobPath(app.layerDigests[0]).test(path))).toHaveLength(2);
    });

    test('retries are bounded: a registry that keeps failing is reported, and no partial file stays', async () => {
      const front = await through({ failFirst: { count: 100, path: /\/blobs\//, status: 503 } });
      const image = await front.resolve();
      const file = join(scratch, 'config');
      await expectRejection(client({ retries: 2 }).downloadBlob(image.source, image.config, file), UnavailableError, 'HTTP 503 (UNAVAILABLE: try again later)');
      expect(existsSync(file)).toBe(false);
      expect(proxy?.requests.filter((path) => path.includes('/blobs/'))).toHaveLength(3);
    });

    test('a corrupted blob is refused, not retried, and the file is removed', async () => {
      const front = await through({ corruptBlobs: true });
      const image = await front.resolve();
      const layer = image.layers[1];
      const file = join(scratch, 'layer');
      const error = await expectRejection(client().downloadBlob(image.source, layer, file), InternalError, `blob ${layer.digest} failed verification: got sha256:`);
      expect(error.message).toMatch(new RegExp(`got sha256:[a-f0-9]{64}, ${layer.size} bytes$`));
      expect(existsSync(file)).toBe(false);
      expect(proxy?.requests.filter((path) => path.includes(layer.digest))).toHaveLength(1);
    });

    test('a manifest whose bytes do not match its digest is refused, by tag and by digest', async () => {
      const front = await through({ corruptManifests: true });
      await expectRejection(front.resolve(), InternalError, `manifest v1 of ${front.host}/app failed verification: expected ${app.manifestDigest}`);
      const byDigest = parseImageReference(`${front.host}/app@${app.manifestDigest}`);
      await expectRejection(client().resolve([source(front.host, 'app')], byDigest), InternalError, `failed verification: expected ${app.manifestDigest}`);
    });

    test('an abort stops a download at once, rejects with its reason and removes the file', async () => {
      const front = await through({ stallBlobs: true });
      const image = await front.resolve();
      const controller = new AbortController();
      const reason = new Error('pod removed');
      const file = join(scratch, 'layer');
      const download = client().downloadBlob(image.source, image.layers[0], file, { signal: controller.signal, onProgress: () => controller.abort(reason) });
      await expect(download).rejects.toBe(reason);
      expect(existsSync(file)).toBe(false);
    });

    test('a stalled download times out after its retries', async () => {
      const front = await through({ stallBlobs: true });
      const image = await front.resolve();
      const started = Date.now();
      await expectRejection(
        client({ requestTimeoutMs: 300, retries: 1 }).downloadBlob(image.source, image.layers[0], join(scratch, 'layer')),
        DeadlineExceededError,
        `${front.host} did not answer within 300 ms`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      expect(proxy?.requests.filter((path) => path.includes(app.layerDigests[0]))).toHaveLength(2);
    });
  });

  test('a Docker schema 1 manifest is refused with a clear reason', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
      res.end(JSON.stringify({ schemaVersion: 1, name: 'old', tag: 'v1', fsLayers: [], history: [] }));
    });
    const host = await listenLocal(server);
    try {
      await expectRejection(client().resolve([source(host, 'old')], parseImageReference(`${host}/old:v1`)), FailedPreconditionError, 'Docker manifest schema 1, which is not supported');
    } finally {
      await closeServer(server);
    }
  });
});
