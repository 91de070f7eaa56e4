import { ErrorCode } from '../proto/gen/agent';

/** A failed request, with the code the host maps to its own error class. */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export function invalid(message: string): AgentError {
  return new AgentError(ErrorCode.ERROR_CODE_INVALID_ARGUMENT, message);
}

export function notFound(message: string): AgentError {
  return new AgentError(ErrorCode.ERROR_CODE_NOT_FOUND, message);
}

export function failedPrecondition(message: string): AgentError {
  return new AgentError(ErrorCode.ERROR_CODE_FAILED_PRECONDITION, message);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
