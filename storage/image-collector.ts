import { errorMessage } from '../system/errors';
import { Limiter } from '../system/limiter';
import type { Logger } from '../system/logger';
import type { ContentStore } from './content-store';
import { partsOf, type ImageLease, type ImageParts } from './image-leases';
import type { ImageStore } from './image-store';
import type { LayerStore } from './layer-store';

/**
 * Decides what of the image store is still referenced, and removes the rest: a layer or blob
 * stays while an image record, a container's lease or a pull in flight names it.
 *
 * Every change to what is referenced (records, leases, a pull's holds) and every collection
 * runs in turn through `exclusive`, so a collection never sees a half-made reference: a pull
 * that found a layer present had already held it, and a container's lease is taken before its
 * root filesystem is mounted.
 */
export class ImageCollector {
  private readonly turn = new Limiter(1);
  private readonly pullHolds = new Set<ImageParts>();
  private readonly leases = new Map<string, ImageLease>();

  constructor(
    private readonly content: ContentStore,
    private readonly layers: LayerStore,
    private readonly images: ImageStore,
    private readonly logger: Logger,
  ) {}

  /** Runs `work` alone among reference changes and collections. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.turn.run(work);
  }

  /** Holds a container's parts; call it inside `exclusive`, after checking they are there. */
  lease(lease: ImageLease): void {
    this.leases.set(lease.owner, lease);
  }

  /** Drops a container's lease and returns it; what only it held goes at the next collection. Idempotent. */
  async release(owner: string): Promise<ImageLease | undefined> {
    return this.exclusive(async () => {
      const lease = this.leases.get(owner);
      this.leases.delete(owner);
      return lease;
    });
  }

  /** How many containers hold parts of the image `id`. */
  holders(id: string): number {
    return [...this.leases.values()].filter((lease) => lease.image === id).length;
  }

  /** Keeps `parts` for a pull until the returned release is called. */
  async holdForPull(parts: ImageParts): Promise<() => void> {
    await this.exclusive(async () => this.pullHolds.add(parts));
    return () => this.pullHolds.delete(parts);
  }

  /** Whether all of `parts` is still in the store; call it inside `exclusive` for an answer that holds. */
  async present(parts: ImageParts): Promise<boolean> {
    const found = await Promise.all([...parts.layers.map((diffId) => this.layers.has(diffId)), ...parts.blobs.map((digest) => this.content.has(digest))]);
    return found.every(Boolean);
  }

  /**
   * Removes every layer and blob nothing references. Layers are only renamed away while
   * references are frozen and deleted afterwards, so a large one holds nothing up. A failure
   * is logged; what it left is collected at the next start.
   */
  async collect(): Promise<void> {
    try {
      const detached = await this.exclusive(() => this.detachUnreferenced());
      if (detached.layers.length === 0 && detached.blobs.length === 0) return;
      await Promise.all(detached.trash.map((dir) => this.layers.purge(dir)));
      this.logger.info('unreferenced image data removed', { layers: detached.layers.join(','), blobs: detached.blobs.join(',') });
    } catch (error) {
      this.logger.error('image garbage collection failed', { error: errorMessage(error) });
    }
  }

  private async detachUnreferenced(): Promise<{ layers: string[]; blobs: string[]; trash: string[] }> {
    const held: ImageParts[] = [...this.pullHolds, ...this.leases.values()];
    for (const image of this.images.list()) {
      const parts = partsOf(image);
      held.push({ layers: parts.layers, blobs: [...parts.blobs, image.manifestDigest] });
    }
    const layers = new Set(held.flatMap((parts) => parts.layers));
    const blobs = new Set(held.flatMap((parts) => parts.blobs));
    const unusedLayers = (await this.layers.list()).filter((diffId) => !layers.has(diffId));
    const unusedBlobs = (await this.content.list()).filter((digest) => !blobs.has(digest));
    const trash = await Promise.all(unusedLayers.map((diffId) => this.layers.detach(diffId)));
    await Promise.all(unusedBlobs.map((digest) => this.content.remove(digest)));
    return { layers: unusedLayers, blobs: unusedBlobs, trash };
  }
}
