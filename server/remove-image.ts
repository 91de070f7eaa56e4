import type { RemoveImageRequest, RemoveImageResponse } from '../proto/gen/cri-api-v1';
import { InvalidArgumentError } from '../system/errors';
import type { ServerContext } from './context';

// Idempotent, as CRI asks: removing an image that is not there succeeds.
export async function removeImage(ctx: ServerContext, request: RemoveImageRequest): Promise<RemoveImageResponse> {
  const name = request.image?.image ?? '';
  if (name === '') throw new InvalidArgumentError('RemoveImage: image.image is empty');
  await ctx.images.remove(name);
  return {};
}
