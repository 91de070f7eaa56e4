import type { ImageRecord } from './image-record';

/** What of an image a holder reads: unpacked layers by diff_id and blobs by digest. */
export interface ImageParts {
  layers: string[];
  blobs: string[];
}

/**
 * A container's hold on the parts of the image it was made from: taken before its root
 * filesystem is mounted and dropped only after it is gone, so RemoveImage cannot take a layer
 * from under it. Kept in memory; the container's record names the same parts, so leases are
 * rebuilt from records at start.
 */
export interface ImageLease extends ImageParts {
  /** The container ID. */
  owner: string;
  /** The image the parts came from, which may since have been removed. */
  image: string;
}

/** What a container made from the image `id` with these layers reads: the layers and the image's config. */
export function leasedParts(id: string, layers: string[]): ImageParts {
  return { layers, blobs: [id] };
}

/** The parts of an image that a container made from it reads. */
export function partsOf(image: ImageRecord): ImageParts {
  return leasedParts(image.id, image.layers.map((layer) => layer.diffId));
}
