import { status as Code } from '@grpc/grpc-js';
import { statusCodeOf, toServiceError } from '../server/grpc-status';
import {
  AbortedError,
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
  UnimplementedError,
} from '../system/errors';

describe('error mapping', () => {
  test.each([
    [new NotFoundError('x'), Code.NOT_FOUND],
    [new InvalidArgumentError('x'), Code.INVALID_ARGUMENT],
    [new AlreadyExistsError('x'), Code.ALREADY_EXISTS],
    [new FailedPreconditionError('x'), Code.FAILED_PRECONDITION],
    [new DeadlineExceededError('x'), Code.DEADLINE_EXCEEDED],
    [new UnimplementedError('x'), Code.UNIMPLEMENTED],
    [new UnavailableError('x'), Code.UNAVAILABLE],
    [new ResourceExhaustedError('x'), Code.RESOURCE_EXHAUSTED],
    [new AbortedError('x'), Code.ABORTED],
    [new InternalError('x'), Code.INTERNAL],
  ])('%s maps to gRPC code %i', (error, code) => {
    expect(statusCodeOf(error)).toBe(code);
  });

  test('anything that is not a typed error is INTERNAL, with its message kept', () => {
    const error = toServiceError(new TypeError('cannot read properties of undefined'));
    expect(error.code).toBe(Code.INTERNAL);
    expect(error.details).toBe('cannot read properties of undefined');
    expect(toServiceError('a string').details).toBe('a string');
  });

  test('the message of a typed error travels as the status details', () => {
    expect(toServiceError(new NotFoundError('pod sandbox "ab" not found')).details).toBe('pod sandbox "ab" not found');
  });
});
