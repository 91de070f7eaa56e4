import type { AuthConfig, PullImageRequest, PullImageResponse } from '../proto/gen/cri-api-v1';
import type { PullAuth } from '../storage/image-puller';
import { InvalidArgumentError } from '../system/errors';
import type { ServerContext } from './context';

function pullAuth(auth: AuthConfig | undefined): PullAuth | undefined {
  if (!auth) return undefined;
  const { username, password, auth: encoded, identityToken, registryToken, serverAddress } = auth;
  if (!username && !password && !encoded && !identityToken && !registryToken) return undefined;
  return { credentials: { username, password, auth: encoded, identityToken, registryToken }, serverAddress };
}

// The kubelet records image_ref as the container's imageRef: the image ID, as containerd answers.
export async function pullImage(ctx: ServerContext, request: PullImageRequest): Promise<PullImageResponse> {
  const image = request.image?.image ?? '';
  if (image === '') throw new InvalidArgumentError('PullImage: image.image is empty');
  const pulled = await ctx.images.pull(image, pullAuth(request.auth));
  return { imageRef: pulled.id };
}
