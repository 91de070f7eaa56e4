import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { diskFullError } from '../system/disk-full';
import {
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PodvisorError,
  UnavailableError,
  errorMessage,
} from '../system/errors';
import type { Logger } from '../system/logger';
import { DigestCheck, SHA256_DIGEST, sha256Digest } from './digest-check';
import { referenceString, type ImageReference } from './image-reference';
import { MANIFEST_ACCEPT, choosePlatform, hostPlatform, parseManifest, type Descriptor, type Manifest, type Platform } from './image-manifest';
import type { PullSource } from './registries-conf';
import { RegistryAuth, type RegistryCredentials } from './registry-auth';
import { HttpStatusError, finalFailure, isTransient, readBody, statusError } from './registry-http';
import { RegistryTransport } from './registry-transport';

export type { Descriptor, Platform } from './image-manifest';
export type { RegistryCredentials } from './registry-auth';

export interface ResolvedImage {
  source: PullSource;
  /** Digest of what the tag (or digest) named at the registry: an index/list or a manifest. Repo digest = repository@this. */
  topDigest: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestBytes: Buffer;
  config: Descriptor;
  layers: Descriptor[];
}

export interface RegistryClientOptions {
  logger: Logger;
  /** For the registry the image names: sent to non-mirror sources only. */
  credentials?: RegistryCredentials;
  /** Which image of a multi-platform index to pick; default linux and this machine's architecture. */
  platform?: Platform;
  /** Bounds connecting, each answer, and any stall while a body streams. */
  requestTimeoutMs?: number;
  /** Further attempts after a 5xx, a 429, a timeout or a dropped connection. */
  retries?: number;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
// Manifests are small; the limit keeps a hostile server from making us buffer gigabytes.
const MANIFEST_LIMIT = 4 * 1024 * 1024;

interface FetchedManifest {
  digest: string;
  bytes: Buffer;
  manifest: Manifest;
}

const FAILURE_KINDS = [NotFoundError, FailedPreconditionError, DeadlineExceededError, InvalidArgumentError, UnavailableError];

interface SourceFailure {
  source: PullSource;
  error: unknown;
}

/** The error for a pull that no source could serve: NotFound only when every source said so. */
function pullFailure(ref: ImageReference, failures: SourceFailure[]): Error {
  const hosts = failures.map(({ source }) => source.host);
  if (failures.every(({ error }) => error instanceof NotFoundError)) {
    return new NotFoundError(`image "${referenceString(ref)}" not found in any of: ${hosts.join(', ')}`);
  }
  const reasons = failures.map(({ source, error }) => `${source.host}: ${errorMessage(error)}`).join('; ');
  const message = `cannot pull image "${referenceString(ref)}": ${reasons}`;
  // The last source is the registry itself (mirrors come first), so its answer decides the kind.
  const last = failures[failures.length - 1].error;
  const Kind = FAILURE_KINDS.find((kind) => last instanceof kind) ?? InternalError;
  return new Kind(message);
}

async function expectOk(response: IncomingMessage, what: string): Promise<void> {
  if (response.statusCode === 200) return;
  if (response.statusCode === 404) {
    response.resume();
    throw new NotFoundError(`${what} not found`);
  }
  throw await statusError(response, what);
}

/** An OCI distribution (Docker registry v2) client for pulling images. */
export class RegistryClient {
  private readonly logger: Logger;
  private readonly transport: RegistryTransport;
  private readonly platform: Platform;
  private readonly retries: number;

  constructor(options: RegistryClientOptions) {
    this.logger = options.logger;
    this.platform = options.platform ?? hostPlatform();
    this.retries = options.retries ?? DEFAULT_RETRIES;
    const auth = new RegistryAuth(options.logger, options.credentials);
    this.transport = new RegistryTransport(options.logger, auth, options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /**
   * Finds the image `ref` names, trying `sources` in order until one has it, and picks this
   * platform's manifest from an index. Every manifest is checked against its digest.
   */
  async resolve(sources: PullSource[], ref: ImageReference): Promise<ResolvedImage> {
    const failures: SourceFailure[] = [];
    for (const source of sources) {
      try {
        const image = await this.resolveAt(source, ref);
        this.logger.info('image resolved', { image: referenceString(ref), host: source.host, repository: source.repository, digest: image.topDigest });
        return image;
      } catch (error) {
        failures.push({ source, error });
        this.logger.warn('image source failed', { image: referenceString(ref), host: source.host, mirror: source.mirror, error: errorMessage(error) });
      }
    }
    if (failures.length === 0) throw new InternalError(`no source to pull image "${referenceString(ref)}" from`);
    throw pullFailure(ref, failures);
  }

  /**
   * Downloads one blob to `destFile`, checking its size and digest as it streams. On any
   * failure `destFile` is removed; an abort rejects with the signal's reason.
   */
  async downloadBlob(source: PullSource, descriptor: Descriptor, destFile: string, options: DownloadOptions = {}): Promise<void> {
    const { digest, size } = descriptor;
    if (!SHA256_DIGEST.test(digest)) throw new FailedPreconditionError(`unsupported blob digest "${digest}" (only sha256)`);
    const what = `blob ${digest} of ${source.host}/${source.repository}`;
    const started = Date.now();
    try {
      await this.withRetries(what, source.host, options.signal, async () => {
        const response = await this.transport.get(source, `/v2/${source.repository}/blobs/${digest}`, { signal: options.signal });
        await expectOk(response, what);
        const check = new DigestCheck(digest, size, options.onProgress);
        await pipeline(response, check, createWriteStream(destFile));
        check.verify();
      });
    } catch (error) {
      await rm(destFile, { force: true });
      if (options.signal?.aborted) throw options.signal.reason;
      throw diskFullError(error, `${what} in ${destFile}`) ?? (error instanceof PodvisorError ? error : new InternalError(`${what}: download failed: ${errorMessage(error)}`));
    }
    this.logger.debug('blob downloaded', { host: source.host, digest, bytes: size, duration_ms: Date.now() - started });
  }

  private async resolveAt(source: PullSource, ref: ImageReference): Promise<ResolvedImage> {
    const image = `${source.host}/${source.repository}`;
    // A digest pins the content, so it wins over a tag given with it.
    const reference = ref.digest ?? ref.tag;
    if (reference === undefined) throw new InvalidArgumentError(`image reference ${image} has neither tag nor digest`);
    const top = await this.fetchManifest(source, reference, ref.digest, `manifest ${reference} of ${image}`);
    let chosen = top;
    if (top.manifest.kind === 'index') {
      const entry = choosePlatform(top.manifest.manifests, this.platform, `image index ${top.digest} of ${image}`);
      chosen = await this.fetchManifest(source, entry.digest, entry.digest, `manifest ${entry.digest} of ${image}`);
      if (chosen.bytes.length !== entry.size) throw new InternalError(`manifest ${entry.digest} of ${image} is ${chosen.bytes.length} bytes, its index says ${entry.size}`);
    }
    if (chosen.manifest.kind !== 'image') throw new FailedPreconditionError(`image index ${top.digest} of ${image} points to another index; nested indexes are not supported`);
    return {
      source,
      topDigest: top.digest,
      manifestDigest: chosen.digest,
      manifestMediaType: chosen.manifest.mediaType,
      manifestBytes: chosen.bytes,
      config: chosen.manifest.config,
      layers: chosen.manifest.layers,
    };
  }

  /** GETs a manifest by tag or digest and checks its bytes against the digest that names them. */
  private async fetchManifest(source: PullSource, reference: string, expectedDigest: string | undefined, what: string): Promise<FetchedManifest> {
    const { bytes, contentType, headerDigest } = await this.withRetries(what, source.host, undefined, async () => {
      const response = await this.transport.get(source, `/v2/${source.repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
      await expectOk(response, what);
      const header = response.headers['docker-content-digest'];
      return { bytes: await readBody(response, MANIFEST_LIMIT), contentType: response.headers['content-type'], headerDigest: typeof header === 'string' ? header : undefined };
    });
    const digest = sha256Digest(bytes);
    // By tag, the registry's Docker-Content-Digest is the only claim to hold the body to.
    const claimed = expectedDigest ?? (headerDigest?.startsWith('sha256:') ? headerDigest : undefined);
    if (claimed !== undefined && claimed !== digest) throw new InternalError(`${what} failed verification: expected ${claimed}, got ${digest}`);
    return { digest, bytes, manifest: parseManifest(bytes, contentType, what) };
  }

  /** Runs `attempt` again after transient failures, waiting longer each time. */
  private async withRetries<T>(what: string, host: string, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      try {
        return await attempt();
      } catch (error) {
        if (signal?.aborted) throw error;
        if (failures >= this.retries || !isTransient(error)) throw finalFailure(error, host);
        const asked = error instanceof HttpStatusError ? error.retryAfterMs : undefined;
        const delay = Math.min(asked ?? FIRST_BACKOFF_MS * 2 ** failures, MAX_BACKOFF_MS);
        this.logger.warn('registry request failed, retrying', { host, what, attempt: failures + 1, delay_ms: delay, error: errorMessage(error) });
        await sleep(delay, undefined, { signal });
      }
    }
  }
}
