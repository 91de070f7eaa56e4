// The one place typed errors become gRPC status codes.
import { status as Code, type ServerErrorResponse } from '@grpc/grpc-js';
import {
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
  UnimplementedError,
  errorMessage,
} from '../system/errors';

const CODES: [new (message: string) => Error, Code][] = [
  [NotFoundError, Code.NOT_FOUND],
  [InvalidArgumentError, Code.INVALID_ARGUMENT],
  [AlreadyExistsError, Code.ALREADY_EXISTS],
  [FailedPreconditionError, Code.FAILED_PRECONDITION],
  [DeadlineExceededError, Code.DEADLINE_EXCEEDED],
  [UnimplementedError, Code.UNIMPLEMENTED],
  [UnavailableError, Code.UNAVAILABLE],
  [ResourceExhaustedError, Code.RESOURCE_EXHAUSTED],
  [AbortedError, Code.ABORTED],
];

/** The status code for anything a verb threw; what is not one of ours is INTERNAL. */
export function statusCodeOf(error: unknown): Code {
  for (const [type, code] of CODES) if (error instanceof type) return code;
  return Code.INTERNAL;
}

// The message travels in an HTTP/2 trailer, which Node refuses to send past 64 KiB (and the
// call with it); a message that quotes a long request value is cut well before.
const MAX_DETAILS_CHARS = 4096;

export function toServiceError(error: unknown): ServerErrorResponse {
  const message = errorMessage(error);
  const details = message.length > MAX_DETAILS_CHARS ? `${message.slice(0, MAX_DETAILS_CHARS)}… (${message.length - MAX_DETAILS_CHARS} more characters)` : message;
  return Object.assign(new Error(details), { code: statusCodeOf(error), details });
}

export function codeName(code: Code): string {
  return Code[code] ?? String(code);
}
