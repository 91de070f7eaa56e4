// Requests a well-behaved client cannot send: bytes that are not UTF-8 where the proto says
// string, or bytes that are no message at all. A JavaScript string cannot hold invalid UTF-8,
// so a request is encoded with a marker in the field and the marker's bytes are overwritten.
import type { Client } from '@grpc/grpc-js';
import { unary, type MethodDefinition } from '../../testbed/cri-client';

// 0xFF never appears in UTF-8.
const NOT_UTF8 = 0xff;

/** `bytes` with every occurrence of the ASCII `marker` overwritten by as many bytes that are not UTF-8. */
export function withInvalidUtf8(bytes: Uint8Array, marker: string): Buffer {
  const copy = Buffer.from(bytes);
  const needle = Buffer.from(marker, 'ascii');
  for (let at = copy.indexOf(needle); at !== -1; at = copy.indexOf(needle, at + needle.length)) copy.fill(NOT_UTF8, at, at + needle.length);
  return copy;
}

/** Calls a unary method with a request already encoded. */
export function unaryBytes<Request, Response>(client: Client, method: MethodDefinition<Request, Response>, bytes: Buffer, deadlineMs?: number): Promise<Response> {
  const raw: MethodDefinition<Buffer, Response> = { path: method.path, requestSerialize: (value) => value, responseDeserialize: (value) => method.responseDeserialize(value) };
  return unary(client, raw, bytes, deadlineMs);
}
