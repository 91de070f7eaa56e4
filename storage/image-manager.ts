import { join } from 'node:path';
import type { Config } from '../config/config';
import { errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { ContentStore } from './content-store';
import { diskUsage, mountPointOf, type FsUsage } from './fs-usage';
import type { ImageRecord } from './image-record';
import { parseImageReference, referenceString } from './image-reference';
import { ImagePuller, type PullAuth } from './image-puller';
import { ImageStore } from './image-store';
import { LayerStore } from './layer-store';
import { loadRegistriesConf, type RegistriesConf } from './registries-conf';

/**
 * The image side of podvisord: pulls, lookups, removal with garbage collection of layers and
 * blobs no image uses any more, pinning, and the image filesystem's usage.
 */
export class ImageManager {
  private readonly pinned: Set<string>;
  private usage: Promise<FsUsage> | undefined;
  private readonly puller: ImagePuller;

  private constructor(
    private readonly dir: string,
    private readonly content: ContentStore,
    private readonly layers: LayerStore,
    private readonly images: ImageStore,
    private registries: RegistriesConf,
    private readonly imageConfig: Config['image'],
    private readonly logger: Logger,
  ) {
    this.pinned = new Set([imageConfig.pause_image, ...imageConfig.pinned_images].map((name) => referenceString(parseImageReference(name))));
    this.puller = new ImagePuller({
      content,
      layers,
      images,
      registries: () => this.registries,
      logger,
      maxParallelDownloads: imageConfig.max_parallel_downloads,
      progressTimeoutMs: imageConfig.pull_progress_timeout_seconds * 1000,
    });
  }

  static async open(config: Config, logger: Logger): Promise<ImageManager> {
    const dir = join(config.root, 'storage');
    const content = new ContentStore(dir);
    const layers = new LayerStore(join(dir, 'layers'));
    const images = new ImageStore(join(dir, 'images'), logger);
    await Promise.all([content.init(), layers.init(), images.load()]);
    // Read now so a broken file stops the daemon at start.
    const registries = await loadRegistriesConf(config.image.registries_conf, config.image.registries_conf_dir);
    const manager = new ImageManager(dir, content, layers, images, registries, config.image, logger);
    await manager.collectGarbage();
    return manager;
  }

  async pull(image: string, auth: PullAuth | undefined): Promise<ImageRecord> {
    // Read afresh for every pull, so edits to mirrors take effect without a restart.
    this.registries = await loadRegistriesConf(this.imageConfig.registries_conf, this.imageConfig.registries_conf_dir);
    try {
      return await this.puller.pull(image, auth);
    } finally {
      this.usage = undefined;
      await this.collectGarbage();
    }
  }

  list(): ImageRecord[] {
    return this.images.list();
  }

  find(name: string): ImageRecord | undefined {
    return this.images.find(name);
  }

  /** The unpacked layer directories of an image, base layer first. */
  layerDirs(image: ImageRecord): string[] {
    return image.layers.map((layer) => this.layers.path(layer.diffId));
  }

  isPinned(image: ImageRecord): boolean {
    return this.pinned.has(image.id) || image.repoTags.some((tag) => this.pinned.has(tag)) || image.repoDigests.some((digest) => this.pinned.has(digest));
  }

  async config(image: ImageRecord): Promise<unknown> {
    return JSON.parse((await this.content.read(image.id)).toString('utf8'));
  }

  /**
   * Removes what `name` names. A tag of an image that has others loses only that tag; an ID,
   * a digest or an image's last tag removes the image. Nothing found is not an error.
   */
  async remove(name: string): Promise<void> {
    const image = this.images.find(name);
    if (!image) return;
    const tag = image.repoTags.find((held) => held === safeReference(name));
    if (tag && image.repoTags.length > 1) {
      await this.images.untag(image, tag);
      this.logger.info('image untagged', { id: image.id, tag });
      return;
    }
    await this.images.delete(image.id);
    this.logger.info('image removed', { id: image.id, tags: image.repoTags.join(',') });
    this.usage = undefined;
    await this.collectGarbage();
  }

  /** Bytes and inodes the image store uses, computed again only after it changed. */
  fsUsage(): Promise<FsUsage> {
    this.usage ??= Promise.all([mountPointOf(this.dir), diskUsage(this.dir)]).then(([mountpoint, used]) => ({ mountpoint, ...used }));
    return this.usage;
  }

  /** Drops layers and blobs no image refers to; waits for a moment when no pull is running. */
  private async collectGarbage(): Promise<void> {
    if (this.puller.busy()) return;
    const images = this.images.list();
    const diffIds = new Set(images.flatMap((image) => image.layers.map((layer) => layer.diffId)));
    const blobs = new Set(images.flatMap((image) => [image.id, image.manifestDigest]));
    try {
      for (const diffId of await this.layers.list()) if (!diffIds.has(diffId)) await this.layers.remove(diffId);
      for (const digest of await this.content.list()) if (!blobs.has(digest)) await this.content.remove(digest);
    } catch (error) {
      this.logger.error('image garbage collection failed', { error: errorMessage(error) });
    }
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
