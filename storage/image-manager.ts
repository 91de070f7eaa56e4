import { join } from 'node:path';
import type { Config } from '../config/config';
import { NotFoundError } from '../system/errors';
import type { Logger } from '../system/logger';
import { ContentStore } from './content-store';
import { mountPointOf, type FsUsage } from './fs-usage';
import { treeUsage } from '../system/tree-usage';
import { ImageCollector } from './image-collector';
import { leasedParts, partsOf, type ImageParts } from './image-leases';
import type { ImageRecord } from './image-record';
import { parseImageReference, referenceString } from './image-reference';
import { ImagePuller, type PullAuth } from './image-puller';
import { ImageStore } from './image-store';
import { LayerStore } from './layer-store';
import { counter, histogram } from '../system/metrics-registry';
import { cachedPerObjectUntilFailed } from '../system/per-object-cache';
import { loadRegistriesConf, type RegistriesConf } from './registries-conf';

const pulls = counter('podvisor_image_pulls_total', 'Image pulls, by outcome (success, failure).');
const pullDuration = histogram('podvisor_image_pull_duration_seconds', 'Duration of image pulls, failed ones included.');

/** An image as a container holds it through its lease. */
export interface LeasedImage {
  image: ImageRecord;
  /** What the lease holds; the container's record names the same parts. */
  parts: ImageParts;
  /** The unpacked layer directories, base layer first. */
  layerDirs: string[];
}

/** A lease as a container's record names it: the image, and the layers (absent in records older than leases). */
export interface RecordedLease {
  owner: string;
  image: string;
  layers?: string[];
}

/**
 * The image side of podvisord: pulls, lookups, removal, the leases containers hold on the
 * layers they run on, collection of what nothing references, pinning, and the image
 * filesystem's usage.
 */
export class ImageManager {
  private readonly pinned: Set<string>;
  private usage: Promise<FsUsage> | undefined;
  /** An image's config blob, read once per record: the image's ID is the blob's digest, so it never changes. */
  private readonly configText = cachedPerObjectUntilFailed((image: ImageRecord) => this.content.read(image.id).then((blob) => blob.toString('utf8')));
  private readonly puller: ImagePuller;

  private constructor(
    private readonly dir: string,
    private readonly content: ContentStore,
    private readonly layers: LayerStore,
    private readonly images: ImageStore,
    private readonly collector: ImageCollector,
    private registries: RegistriesConf,
    private readonly imageConfig: Config['image'],
    private readonly logger: Logger,
  ) {
    this.pinned = new Set([imageConfig.pause_image, ...imageConfig.pinned_images].map((name) => referenceString(parseImageReference(name))));
    this.puller = new ImagePuller({
      content,
      layers,
      hold: (parts) => collector.holdForPull(parts),
      record: (image) => collector.exclusive(() => images.put(image)),
      registries: () => this.registries,
      logger,
      maxParallelDownloads: imageConfig.max_parallel_downloads,
      progressTimeoutMs: imageConfig.pull_progress_timeout_seconds * 1000,
    });
  }

  /**
   * Opens the stores, takes back the leases of the containers that exist (from their records),
   * and collects what nothing references: a crash can leave layers of a pull, of a removal, or
   * of a container that was being created or removed.
   */
  static async open(config: Config, logger: Logger, leases: RecordedLease[]): Promise<ImageManager> {
    const dir = join(config.root, 'storage');
    const content = new ContentStore(dir);
    const layers = new LayerStore(join(dir, 'layers'));
    const images = new ImageStore(join(dir, 'images'), logger);
    await Promise.all([content.init(), layers.init(), images.load()]);
    // Read now so a broken file stops the daemon at start.
    const registries = await loadRegistriesConf(config.image.registries_conf, config.image.registries_conf_dir);
    const collector = new ImageCollector(content, layers, images, logger);
    for (const { owner, image, layers: named } of leases) {
      const layers = named ?? images.get(image)?.layers.map((layer) => layer.diffId);
      if (layers) collector.lease({ owner, image, ...leasedParts(image, layers) });
      else logger.warn('a container names no layers and its image is gone', { container_id: owner, image_id: image });
    }
    const manager = new ImageManager(dir, content, layers, images, collector, registries, config.image, logger);
    await manager.collect();
    return manager;
  }

  async pull(image: string, auth: PullAuth | undefined): Promise<ImageRecord> {
    // Read afresh for every pull, so edits to mirrors take effect without a restart.
    this.registries = await loadRegistriesConf(this.imageConfig.registries_conf, this.imageConfig.registries_conf_dir);
    try {
      const pulled = await pullDuration.time({}, () => this.puller.pull(image, auth));
      pulls.inc({ outcome: 'success' });
      this.usage = undefined;
      return pulled;
    } catch (error) {
      pulls.inc({ outcome: 'failure' });
      // What the failed pull left: everything a successful one brought, its image now holds.
      await this.collect();
      throw error;
    }
  }

  /**
   * Gives `owner` (a container being made) a lease on the image `name` names: its layers and
   * config stay, even if the image is removed, until `release(owner)`. NotFound when no image
   * has that name.
   *
   * The name is resolved as the call arrives. A removal of that image already under way is
   * then ordered after this call, as it may be for two calls at once: the lease is taken on
   * the parts the removal has not collected yet, and keeps them.
   */
  async lease(owner: string, name: string): Promise<LeasedImage> {
    const image = this.images.find(name);
    if (!image) throw new NotFoundError(`image "${name}" not found; pull it first`);
    const parts = partsOf(image);
    return this.collector.exclusive(async () => {
      if (!this.images.get(image.id) && !(await this.collector.present(parts))) throw new NotFoundError(`image "${name}" was removed`);
      this.collector.lease({ owner, image: image.id, ...parts });
      return { image, parts, layerDirs: parts.layers.map((diffId) => this.layers.path(diffId)) };
    });
  }

  /** Drops `owner`'s lease, once nothing of it reads the layers any more; idempotent. */
  async release(owner: string): Promise<void> {
    const released = await this.collector.release(owner);
    // While its image is there, the image holds all the lease held: nothing is left to collect.
    if (released && !this.images.get(released.image)) await this.collect();
  }

  list(): ImageRecord[] {
    return this.images.list();
  }

  find(name: string): ImageRecord | undefined {
    return this.images.find(name);
  }

  isPinned(image: ImageRecord): boolean {
    return this.pinned.has(image.id) || image.repoTags.some((tag) => this.pinned.has(tag)) || image.repoDigests.some((digest) => this.pinned.has(digest));
  }

  /** The image's config, parsed anew for each caller (who may change it). */
  async config(image: ImageRecord): Promise<unknown> {
    return JSON.parse(await this.configText(image));
  }

  /**
   * Removes what `name` names. A tag of an image that has others loses only that tag; an ID,
   * a digest or an image's last tag removes the image, and its layers go once no container
   * holds them. Nothing found is not an error.
   */
  async remove(name: string): Promise<void> {
    const removed = await this.collector.exclusive(async () => {
      const image = this.images.find(name);
      if (!image) return false;
      const tag = image.repoTags.find((held) => held === safeReference(name));
      if (tag && image.repoTags.length > 1) {
        await this.images.untag(image, tag);
        this.logger.info('image untagged', { id: image.id, tag });
        return false;
      }
      await this.images.delete(image.id);
      this.logger.info('image removed', { id: image.id, tags: image.repoTags.join(','), containers_holding_layers: this.collector.holders(image.id) });
      return true;
    });
    if (removed) await this.collect();
  }

  /** Bytes and inodes the image store uses, computed again only after it changed. */
  fsUsage(): Promise<FsUsage> {
    this.usage ??= Promise.all([mountPointOf(this.dir), treeUsage(this.dir)]).then(([mountpoint, used]) => ({ mountpoint, ...used }));
    return this.usage;
  }

  private async collect(): Promise<void> {
    await this.collector.collect();
    this.usage = undefined;
  }
}

/** The normalised form of a reference, or undefined for an ID or a malformed name. */
function safeReference(name: string): string | undefined {
  try {
    return referenceString(parseImageReference(name));
  } catch {
    return undefined;
  }
}
