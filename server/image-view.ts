import type { Image } from '../proto/gen/cri-api-v1';
import type { ImageRecord } from '../storage/image-record';
import type { ServerContext } from './context';

/**
 * The image config's User as CRI reports it: a numeric user as uid, a name as username
 * (a group after ":" is not part of either).
 */
function imageUser(user: string): Pick<Image, 'uid' | 'username'> {
  const name = user.split(':')[0];
  if (name === '') return { uid: undefined, username: '' };
  return /^\d+$/.test(name) ? { uid: { value: BigInt(name) }, username: '' } : { uid: undefined, username: name };
}

export function criImage(ctx: ServerContext, image: ImageRecord): Image {
  return {
    id: image.id,
    repoTags: image.repoTags,
    repoDigests: image.repoDigests,
    size: BigInt(image.size),
    ...imageUser(image.user),
    spec: { image: image.id, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: image.id },
    pinned: ctx.images.isPinned(image),
  };
}
