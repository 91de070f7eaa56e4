import type { ImageSpec } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { parseImageReference, referenceString, repositoryOf, type ImageReference } from '../storage/image-reference';
import type { ImageRecord } from '../storage/image-record';
import { loadedContainerConfig } from './container-config';

/** How ContainerStatus names a container's image; the kubelet copies them into the pod's status. */
export interface ContainerImageNames {
  spec: ImageSpec;
  /** A repo digest (name@sha256:...), the pod status's imageID. */
  imageRef: string;
}

/** `name` parsed, or undefined for what is not an image reference (an image ID). */
function parsed(name: string): ImageReference | undefined {
  try {
    return parseImageReference(name);
  } catch {
    return undefined;
  }
}

/** The tag `name` normalises to, when it names one. */
function tagOf(name: string): string | undefined {
  const reference = parsed(name);
  return reference && reference.digest === undefined ? referenceString(reference) : undefined;
}

/**
 * As containerd and CRI-O report it: `image` is a repo tag of the image (the one the user named
 * when it has it, else its first), `imageRef` a repo digest (of the same repository when there is
 * one); an image without tags keeps the name it was created by, one without repo digests (or
 * removed since) its ID. user_specified_image stays what the user named.
 */
export function containerImageNames(container: ContainerRecord, image: ImageRecord | undefined): ContainerImageNames {
  const specified = loadedContainerConfig(container.config).image?.userSpecifiedImage || container.image;
  const tags = image?.repoTags ?? [];
  const digests = image?.repoDigests ?? [];
  const wanted = [specified, container.image].map(tagOf).find((tag) => tag !== undefined && tags.includes(tag));
  const tag = wanted ?? tags[0];
  const tagged = tag === undefined ? undefined : parsed(tag);
  const repository = tagged === undefined ? undefined : repositoryOf(tagged);
  const digest = digests.find((candidate) => repository !== undefined && candidate.startsWith(`${repository}@`)) ?? digests[0];
  const imageRef = digest ?? container.imageId;
  return {
    spec: { image: tag ?? container.image, annotations: {}, userSpecifiedImage: specified, runtimeHandler: '', imageRef },
    imageRef,
  };
}
