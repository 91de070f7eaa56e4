// ListContainers and ListPodSandbox answers are their items, each as field 1 (length-delimited).
// Encoding every item anew on every call was most of what a list of 500 containers cost; as a
// record's views are made once (container-view.ts, pod-view.ts), each view's bytes are kept
// with it, and an answer is their concatenation: the same bytes ts-proto would write.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Container, PodSandbox, type ListContainersResponse, type ListPodSandboxResponse } from '../proto/gen/cri-api-v1';
import { cachedPerObject } from '../system/per-object-cache';

// Field 1, wire type 2 (length-delimited).
const ITEMS_TAG = (1 << 3) | 2;

interface MessageType<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

function repeatedItems<T extends object>(type: MessageType<T>): (items: T[]) => Buffer {
  const itemBytes = cachedPerObject((item: T) => type.encode(item, new BinaryWriter().uint32(ITEMS_TAG).fork()).join().finish());
  return (items) => Buffer.concat(items.map(itemBytes));
}

const containerItems = repeatedItems(Container);
const podItems = repeatedItems(PodSandbox);

export function encodeListContainersResponse(response: ListContainersResponse): Buffer {
  return containerItems(response.containers);
}

export function encodeListPodSandboxResponse(response: ListPodSandboxResponse): Buffer {
  return podItems(response.items);
}
