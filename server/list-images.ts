import type { ListImagesRequest, ListImagesResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { criImage } from './image-view';

export async function listImages(ctx: ServerContext, request: ListImagesRequest): Promise<ListImagesResponse> {
  const wanted = request.filter?.image?.image ?? '';
  const found = wanted === '' ? ctx.images.list() : [ctx.images.find(wanted)].filter((image) => image !== undefined);
  return { images: found.map((image) => criImage(ctx, image)) };
}
