// The answers the kubelet asks for over and over (lists, container and image status) are
// encoded from bytes kept per view object. Encoding every item anew on every call was most of
// what a list of 500 containers cost, and most of a status call's own time; as views are made
// once per record (container-view.ts, pod-view.ts, image-view.ts), each view's bytes, already
// framed as field 1 of its answer, are kept with it. An answer is those bytes plus what else
// it holds encoded anew (the verbose info map): the message ts-proto would write, field order
// aside, which decoders do not depend on.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  Container,
  ContainerStatus,
  ContainerStatusResponse,
  Image,
  ImageStatusResponse,
  PodSandbox,
  type ListContainersResponse,
  type ListImagesResponse,
  type ListPodSandboxResponse,
} from '../proto/gen/cri-api-v1';
import { cachedPerObject } from '../system/per-object-cache';

// Every one of these answers holds its views in field 1, wire type 2 (length-delimited).
const VIEW_TAG = (1 << 3) | 2;

interface MessageType<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/** A view's bytes as field 1 of an answer, kept per view object. */
function fieldOneBytes<T extends object>(type: MessageType<T>): (view: T) => Uint8Array {
  return cachedPerObject((view: T) => type.encode(view, new BinaryWriter().uint32(VIEW_TAG).fork()).join().finish());
}

export const containerBytes = fieldOneBytes(Container);
export const podBytes = fieldOneBytes(PodSandbox);
export const imageBytes = fieldOneBytes(Image);
const containerStatusBytes = fieldOneBytes(ContainerStatus);

/** An answer: field 1 (`view`, if there is one), then `rest`, the answer encoded without it. */
function withView<T extends object>(view: T | undefined, bytes: (view: T) => Uint8Array, rest: Uint8Array): Buffer {
  return view === undefined ? Buffer.from(rest) : Buffer.concat([bytes(view), rest]);
}

export function encodeListContainersResponse(response: ListContainersResponse): Buffer {
  return Buffer.concat(response.containers.map(containerBytes));
}

export function encodeListPodSandboxResponse(response: ListPodSandboxResponse): Buffer {
  return Buffer.concat(response.items.map(podBytes));
}

export function encodeListImagesResponse(response: ListImagesResponse): Buffer {
  return Buffer.concat(response.images.map(imageBytes));
}

export function encodeContainerStatusResponse(response: ContainerStatusResponse): Buffer {
  return withView(response.status, containerStatusBytes, ContainerStatusResponse.encode({ ...response, status: undefined }).finish());
}

export function encodeImageStatusResponse(response: ImageStatusResponse): Buffer {
  return withView(response.image, imageBytes, ImageStatusResponse.encode({ ...response, image: undefined }).finish());
}
