// Typed errors raised anywhere below the server. Each class names one gRPC status; the mapping
// to wire codes lives in one place (server/grpc-status.ts), so lower layers never import gRPC.

export abstract class PodvisorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The object asked for (pod, container, image, prefix) does not exist. */
export class NotFoundError extends PodvisorError {}

/** The request itself is wrong: a missing field, a bad value, an ambiguous prefix. */
export class InvalidArgumentError extends PodvisorError {}

/** Something with that name or ID exists already. */
export class AlreadyExistsError extends PodvisorError {}

/** The request is valid but the object is in the wrong state for it. */
export class FailedPreconditionError extends PodvisorError {}

/** An operation ran out of time. */
export class DeadlineExceededError extends PodvisorError {}

/** Something we depend on is not reachable now (a lost connection); trying again may work. */
export class UnavailableError extends PodvisorError {}

/** Something is used up: disk space under the root or the runroot, a quota. */
export class ResourceExhaustedError extends PodvisorError {}

/** A conflicting call on the same object won; the caller may look again and retry. */
export class AbortedError extends PodvisorError {}

/** The verb or feature is not built. */
export class UnimplementedError extends PodvisorError {}

/** A fault of ours or of the system beneath us, not of the request. */
export class InternalError extends PodvisorError {}

/** The message of anything thrown, typed or not. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
