import type { ImageStatusRequest, ImageStatusResponse } from '../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../system/errors';
import type { ServerContext } from './context';
import { criImage } from './image-view';

// An unknown image is not an error: CRI wants an empty response, and the kubelet pulls then.
export async function imageStatus(ctx: ServerContext, request: ImageStatusRequest): Promise<ImageStatusResponse> {
  const name = request.image?.image ?? '';
  if (name === '') throw new InvalidArgumentError('ImageStatus: image.image is empty');
  const image = ctx.images.find(name);
  if (!image) return { image: undefined, info: {} };
  const info: Record<string, string> = {};
  if (request.verbose) {
    info.info = JSON.stringify({
      id: image.id,
      manifestDigest: image.manifestDigest,
      layers: image.layers,
      pulledAt: image.pulledAt,
      imageSpec: await ctx.images.config(image),
    });
  }
  return { image: criImage(ctx, image), info };
}
