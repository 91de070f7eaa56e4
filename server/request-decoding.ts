// Decoding a CRI request never fails the call with INTERNAL: grpc-js answers that to a
// deserializer that throws. Bytes that are no message, and a message a field of which breaks
// what every request must respect (request-validation.ts), decode to a request that is marked
// refused; the verb's wrapper answers it with INVALID_ARGUMENT before the verb sees it.
import { errorMessage } from '../system/errors';
import { requestProblem } from './request-validation';

const refusals = new WeakMap<object, string>();
const NO_BYTES = Buffer.alloc(0);

/** `deserialize` made to mark, rather than throw or let pass, a request that is refused. */
export function checkedDeserializer<T>(deserialize: (bytes: Buffer) => T): (bytes: Buffer) => T {
  return (bytes) => {
    let request: T;
    let problem: string | undefined;
    try {
      request = deserialize(bytes);
      problem = requestProblem(request, bytes);
    } catch (error) {
      request = deserialize(NO_BYTES);
      problem = `the request is not a valid protobuf message: ${errorMessage(error)}`;
    }
    if (problem !== undefined && typeof request === 'object' && request !== null) refusals.set(request, problem);
    return request;
  };
}

/** Why the request was refused when it was decoded; undefined when it was not. */
export function refusalOf(request: unknown): string | undefined {
  return typeof request === 'object' && request !== null ? refusals.get(request) : undefined;
}
