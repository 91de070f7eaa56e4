import { writeFile } from 'node:fs/promises';
import { DeadlineExceededError, InvalidArgumentError, errorMessage } from '../system/errors';
import { Limiter } from '../system/limiter';
import { counter } from '../system/metrics-registry';
import type { Logger } from '../system/logger';
import { SingleFlight } from '../system/single-flight';
import type { ContentStore } from './content-store';
import type { ImageParts } from './image-leases';
import type { ImageRecord, LayerRecord } from './image-record';
import { parseImageReference, referenceString, repositoryOf, type ImageReference } from './image-reference';
import { compressionOfMediaType, unpackLayer } from './layer-unpack';
import type { LayerStore } from './layer-store';
import { pullSources, type PullSource, type RegistriesConf } from './registries-conf';
import { RegistryClient, type Descriptor, type RegistryCredentials, type ResolvedImage } from './registry-client';

// Blobs downloaded whole; what was already held, or a download cut short, counts nothing.
const pulledBytes = counter('podvisor_image_pull_bytes_total', 'Bytes of image blobs downloaded from registries.');

// How often a running pull logs how far it has got.
const PROGRESS_LOG_INTERVAL_MS = 5000;

export interface PullerOptions {
  content: ContentStore;
  layers: LayerStore;
  /**
   * Keeps parts from collection until the returned release; a part is held before the pull
   * looks whether it is there, so a present one cannot vanish before the image is recorded.
   */
  hold: (parts: ImageParts) => Promise<() => void>;
  /** Stores the pulled image record (its tags moved to it) and returns it as stored. */
  record: (image: ImageRecord) => Promise<ImageRecord>;
  registries: () => RegistriesConf;
  logger: Logger;
  maxParallelDownloads: number;
  /** A download that receives nothing for this long is cancelled; 0 never. */
  progressTimeoutMs: number;
}

export interface PullAuth {
  credentials: RegistryCredentials;
  /** The registry the credentials are for; empty means the image's own registry. */
  serverAddress: string;
}

/** The image config fields a pull needs. */
interface ImageConfig {
  rootfs?: { diff_ids?: string[] };
  config?: { User?: string };
}

/** One layer download and unpack, shared by every pull that needs the same diff_id. */
class LayerFetch {
  received = 0;
}

/** Registry host as the kubelet names it in AuthConfig.server_address (scheme and path dropped). */
function hostOf(serverAddress: string): string {
  return serverAddress.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
}

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function sameRegistry(a: string, b: string): boolean {
  return a === b || (DOCKER_HUB_HOSTS.has(a) && DOCKER_HUB_HOSTS.has(b));
}

/**
 * Pulls images into the stores: resolves the reference through registries.conf, fetches
 * the manifest and config, downloads and unpacks the layers not already held (in parallel,
 * bounded), and records the image only once all of it is in place.
 */
export class ImagePuller {
  private readonly pulls = new SingleFlight<ImageRecord>();
  private readonly layerFetches = new SingleFlight<void>();
  private readonly layerProgress = new Map<string, LayerFetch>();
  private readonly downloads: Limiter;

  constructor(private readonly options: PullerOptions) {
    this.downloads = new Limiter(options.maxParallelDownloads);
  }

  async pull(image: string, auth: PullAuth | undefined): Promise<ImageRecord> {
    const reference = parseImageReference(image);
    const name = referenceString(reference);
    return this.pulls.run(name, () => this.pullOnce(reference, name, auth));
  }

  /**
   * A client for one pull. Credentials are for the image's own registry (the client never
   * sends them to a mirror); ones the kubelet gave for another registry are not used at all.
   */
  private client(reference: ImageReference, auth: PullAuth | undefined): RegistryClient {
    const { logger } = this.options;
    const forThisRegistry = auth && (auth.serverAddress === '' || sameRegistry(hostOf(auth.serverAddress), reference.domain));
    return new RegistryClient({ logger, credentials: forThisRegistry ? auth.credentials : undefined });
  }

  private async pullOnce(reference: ImageReference, name: string, auth: PullAuth | undefined): Promise<ImageRecord> {
    const { logger, content } = this.options;
    const started = Date.now();
    const sources = pullSources(this.options.registries(), reference);
    const client = this.client(reference, auth);
    const resolved = await client.resolve(sources, reference);
    logger.info('pulling image', { image: name, source: resolved.source.host, manifest: resolved.manifestDigest, layers: resolved.layers.length });

    const releases = [await this.options.hold({ layers: [], blobs: [resolved.config.digest, resolved.manifestDigest] })];
    try {
      await this.fetchBlob(client, resolved.source, resolved.config);
      const config = JSON.parse((await content.read(resolved.config.digest)).toString('utf8')) as ImageConfig;
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== resolved.layers.length) {
        throw new InvalidArgumentError(`image "${name}": manifest has ${resolved.layers.length} layers but its config lists ${diffIds.length} diff_ids`);
      }
      const layers: LayerRecord[] = resolved.layers.map((layer, i) => ({ digest: layer.digest, diffId: diffIds[i], size: layer.size, mediaType: layer.mediaType }));
      releases.push(await this.options.hold({ layers: diffIds, blobs: [] }));

      const progress = setInterval(() => this.logProgress(name, layers), PROGRESS_LOG_INTERVAL_MS);
      try {
        await Promise.all(layers.map((layer) => this.fetchLayer(client, resolved.source, layer)));
      } finally {
        clearInterval(progress);
      }
      await this.keepManifest(resolved);

      const record = await this.options.record({
        id: resolved.config.digest,
        repoTags: reference.tag ? [referenceString({ ...reference, digest: undefined })] : [],
        repoDigests: [`${repositoryOf(reference)}@${resolved.topDigest}`],
        manifestDigest: resolved.manifestDigest,
        layers,
        size: resolved.config.size + layers.reduce((sum, layer) => sum + layer.size, 0),
        user: config.config?.User ?? '',
        pulledAt: new Date().toISOString(),
      });
      logger.info('image pulled', { image: name, id: record.id, bytes: record.size, duration_ms: Date.now() - started });
      return record;
    } finally {
      for (const release of releases) release();
    }
  }

  private logProgress(name: string, layers: LayerRecord[]): void {
    const total = layers.reduce((sum, layer) => sum + layer.size, 0);
    const done = layers.reduce((sum, layer) => sum + (this.layerProgress.get(layer.diffId)?.received ?? layer.size), 0);
    this.options.logger.info('pull progress', { image: name, done_bytes: done, total_bytes: total });
  }

  /** The manifest (verified by the client) is kept so the image can be inspected offline. */
  private async keepManifest(resolved: ResolvedImage): Promise<void> {
    const { content } = this.options;
    if (await content.has(resolved.manifestDigest)) return;
    await content.ingest(resolved.manifestDigest, (temp) => writeFile(temp, resolved.manifestBytes));
  }

  private async fetchBlob(client: RegistryClient, source: PullSource, descriptor: Descriptor): Promise<void> {
    const { content } = this.options;
    if (await content.has(descriptor.digest)) return;
    await content.ingest(descriptor.digest, (temp) => this.download(client, source, descriptor, temp, new LayerFetch()));
  }

  /** Downloads with a watchdog: no bytes for progressTimeoutMs cancels the download. */
  private download(client: RegistryClient, source: PullSource, descriptor: Descriptor, file: string, fetch: LayerFetch): Promise<void> {
    const { progressTimeoutMs } = this.options;
    return this.downloads.run(async () => {
      const abort = new AbortController();
      let lastProgress = Date.now();
      const watchdog =
        progressTimeoutMs > 0
          ? setInterval(() => {
              if (Date.now() - lastProgress < progressTimeoutMs) return;
              abort.abort(new DeadlineExceededError(`download of ${descriptor.digest} from ${source.host} made no progress for ${progressTimeoutMs / 1000} s`));
            }, Math.min(1000, progressTimeoutMs))
          : undefined;
      try {
        await client.downloadBlob(source, descriptor, file, {
          signal: abort.signal,
          onProgress: (bytes) => {
            fetch.received = bytes;
            lastProgress = Date.now();
          },
        });
        pulledBytes.inc({}, descriptor.size);
      } catch (error) {
        throw abort.signal.aborted ? abort.signal.reason : error;
      } finally {
        clearInterval(watchdog);
      }
    });
  }

  private fetchLayer(client: RegistryClient, source: PullSource, layer: LayerRecord): Promise<void> {
    const { layers, content, logger } = this.options;
    return this.layerFetches.run(layer.diffId, async () => {
      if (await layers.has(layer.diffId)) return;
      const compression = compressionOfMediaType(layer.mediaType);
      if (!compression) throw new InvalidArgumentError(`layer ${layer.digest} has unsupported media type "${layer.mediaType}"`);
      const fetch = new LayerFetch();
      this.layerProgress.set(layer.diffId, fetch);
      try {
        // The compressed blob is only a vehicle: once unpacked and verified it is dropped.
        await content.withTempFile(layer.digest, async (temp) => {
          await this.download(client, source, layer, temp, fetch);
          await layers.add(layer.diffId, async (dir) => (await unpackLayer(temp, compression, dir)).diffId);
        });
      } catch (error) {
        logger.error('layer pull failed', { layer: layer.digest, diff_id: layer.diffId, error: errorMessage(error) });
        throw error;
      } finally {
        this.layerProgress.delete(layer.diffId);
      }
    });
  }
}
