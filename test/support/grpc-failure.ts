import type { ServiceError } from '@grpc/grpc-js';

/** The gRPC error a call fails with; the test fails if the call succeeds. */
export function grpcFailure(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: ServiceError) => error,
  );
}
