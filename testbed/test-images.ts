import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { hostPlatform, type Platform } from '../storage/image-manifest';
import { basicAuthorization, request } from './http';

// Images built in memory and pushed through the registry HTTP API itself, so tests need no
// image tooling.

const gzipAsync = promisify(gzip);

export type LayerEntry =
  | { type: 'file'; path: string; content: string | Buffer; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string };

export type LayerSpec = LayerEntry[];

export type ImageFormat = 'oci' | 'docker';

export interface RunConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config?: RunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
}

export interface BasicAuth {
  user: string;
  password: string;
}

export interface PushOptions {
  layers: LayerSpec[];
  /** Fields of the image config; rootfs is always computed from the layers. */
  config?: Partial<Omit<ImageConfig, 'rootfs'>>;
  /** Default: this machine's, so that a client with default options picks it. */
  platform?: Platform;
  format?: ImageFormat;
  basicAuth?: BasicAuth;
}

export interface PushedImage {
  manifestDigest: string;
  manifestSize: number;
  manifestMediaType: string;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
}

export interface IndexEntry {
  digest: string;
  size: number;
  platform: Platform;
  mediaType?: string;
}

const MEDIA = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
    index: 'application/vnd.oci.image.index.v1+json',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
  },
} as const;

// Fixed timestamps make a layer's digest depend on its content only.
const EPOCH = new Date(0);

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A tar of `entries`: the uncompressed bytes give the diff ID, the gzip the blob. */
export async function buildLayer(entries: LayerSpec): Promise<{ tar: Buffer; blob: Buffer }> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const entry of entries) {
    const name = entry.path.replace(/^\/+/, '');
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null): void => (error ? reject(error) : resolve());
      if (entry.type === 'file') archive.entry({ name, type: 'file', mode: entry.mode ?? 0o644, mtime: EPOCH }, entry.content, done);
      else if (entry.type === 'dir') archive.entry({ name, type: 'directory', mode: entry.mode ?? 0o755, mtime: EPOCH }, done);
      else archive.entry({ name, type: 'symlink', linkname: entry.target, mode: 0o777, mtime: EPOCH }, done);
    });
  }
  archive.finalize();
  await collected;
  const tar = Buffer.concat(chunks);
  return { tar, blob: await gzipAsync(tar) };
}

const BUSYBOX = '/bin/busybox';
const BUSYBOX_APPLETS = ['sh', 'ls', 'cat', 'echo', 'sleep', 'true', 'false', 'env', 'id', 'mkdir', 'rm', 'touch', 'ps', 'hostname', 'test', 'wc', 'grep', 'head', 'tail', 'printf', 'pwd', 'kill', 'stat', 'date', 'uname'];

/** Debian's static busybox at /bin/busybox with the usual applet symlinks, enough to run a shell. */
export async function busyboxLayer(): Promise<LayerSpec> {
  const binary = await readFile(BUSYBOX);
  return [
    { type: 'dir', path: 'bin' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'file', path: 'bin/busybox', content: binary, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((applet): LayerEntry => ({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' })),
  ];
}

function baseUrl(host: string): string {
  return host.includes('://') ? host : `http://${host}`;
}

function authHeaders(auth: BasicAuth | undefined): Record<string, string> {
  return auth ? { authorization: basicAuthorization(auth.user, auth.password) } : {};
}

/** Uploads a blob in one piece (POST to open the upload, PUT with the digest to finish it). */
export async function pushBlob(host: string, repository: string, blob: Buffer, auth?: BasicAuth): Promise<string> {
  const digest = sha256(blob);
  const base = baseUrl(host);
  const opened = await request(`${base}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: authHeaders(auth) });
  if (opened.status !== 202 || typeof opened.headers.location !== 'string') throw new Error(`opening an upload to ${repository}: HTTP ${opened.status} ${opened.body.toString()}`);
  const target = new URL(opened.headers.location, base);
  target.searchParams.set('digest', digest);
  const headers = { ...authHeaders(auth), 'content-type': 'application/octet-stream', 'content-length': String(blob.length) };
  const put = await request(target.toString(), { method: 'PUT', headers, body: blob });
  if (put.status !== 201) throw new Error(`uploading ${digest} to ${repository}: HTTP ${put.status} ${put.body.toString()}`);
  return digest;
}

/** PUTs a manifest or index under `reference` and answers its digest. */
export async function pushManifest(host: string, repository: string, reference: string, mediaType: string, body: Buffer, auth?: BasicAuth): Promise<string> {
  const headers = { ...authHeaders(auth), 'content-type': mediaType, 'content-length': String(body.length) };
  const put = await request(`${baseUrl(host)}/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers, body });
  if (put.status !== 201) throw new Error(`pushing manifest ${repository}:${reference}: HTTP ${put.status} ${put.body.toString()}`);
  return sha256(body);
}

/** Builds an image from `options.layers` and pushes its layers, config and manifest as `tag`. */
export async function pushImage(host: string, repository: string, tag: string, options: PushOptions): Promise<PushedImage> {
  const media = MEDIA[options.format ?? 'oci'];
  const platform = options.platform ?? hostPlatform();
  const layers = await Promise.all(options.layers.map(buildLayer));
  const diffIds = layers.map(({ tar }) => sha256(tar));
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Cmd: ['/bin/sh'] },
    ...options.config,
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await pushBlob(host, repository, configBytes, options.basicAuth);
  const layerDigests: string[] = [];
  for (const { blob } of layers) layerDigests.push(await pushBlob(host, repository, blob, options.basicAuth));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: media.manifest,
      config: { mediaType: media.config, digest: configDigest, size: configBytes.length },
      layers: layers.map(({ blob }, i) => ({ mediaType: media.layer, digest: layerDigests[i], size: blob.length })),
    }),
  );
  const manifestDigest = await pushManifest(host, repository, tag, media.manifest, manifest, options.basicAuth);
  return { manifestDigest, manifestSize: manifest.length, manifestMediaType: media.manifest, configDigest, layerDigests, diffIds };
}

/** Pushes a multi-platform index (OCI, or a Docker manifest list) of already pushed manifests. */
export async function pushIndex(
  host: string,
  repository: string,
  tag: string,
  manifests: IndexEntry[],
  options: { format?: ImageFormat; basicAuth?: BasicAuth } = {},
): Promise<{ digest: string; size: number }> {
  const media = MEDIA[options.format ?? 'oci'];
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: media.index,
      manifests: manifests.map(({ digest, size, platform, mediaType }) => ({ mediaType: mediaType ?? media.manifest, digest, size, platform })),
    }),
  );
  return { digest: await pushManifest(host, repository, tag, media.index, body, options.basicAuth), size: body.length };
}
