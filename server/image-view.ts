import type { Image } from '../proto/gen/cri-api-v1';
import type { ImageManager } from '../storage/image-manager';
import type { ImageRecord } from '../storage/image-record';
import { cachedPerObject } from '../system/per-object-cache';
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

// One view per record and image manager (which holds the pinned names), so that its encoded
// bytes are kept with it (response-encoding.ts); records are replaced, never changed.
const viewsOf = cachedPerObject((images: ImageManager) => cachedPerObject((image: ImageRecord): Image => view(images, image)));

export function criImage(ctx: ServerContext, image: ImageRecord): Image {
  return viewsOf(ctx.images)(image);
}

function view(images: ImageManager, image: ImageRecord): Image {
  return {
    id: image.id,
    repoTags: image.repoTags,
    repoDigests: image.repoDigests,
    size: BigInt(image.size),
    ...imageUser(image.user),
    spec: { image: image.id, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: image.id },
    pinned: images.isPinned(image),
  };
}
