import { listImages } from './list-images';
import { streamedList } from './list-stream';
import { imageBytes } from './response-encoding';

export const streamImages = streamedList(listImages, {
  items: (listed) => listed.images,
  encodedBytes: (image) => imageBytes(image).length,
  batch: (images) => ({ images }),
});
