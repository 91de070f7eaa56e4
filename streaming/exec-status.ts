// What goes on the error stream when an exec or attach ends: a metav1.Status as JSON for v4
// and later (client-go reads the exit code out of it), plain text for older protocols, which
// report nothing on success.
import { errorMessage } from '../system/errors';

export type Outcome = { exitCode: number | undefined } | { error: unknown };

interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

function statusOf(outcome: Outcome): Status {
  if ('error' in outcome) {
    const message = errorMessage(outcome.error);
    return {
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${message}`,
      reason: 'InternalError',
      details: { causes: [{ message }] },
      code: 500,
    };
  }
  const { exitCode } = outcome;
  if (exitCode === undefined || exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

/** The bytes to write on the error stream, or nothing. */
export function encodeOutcome(outcome: Outcome, json: boolean): Buffer | undefined {
  const status = statusOf(outcome);
  if (json) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? 'Failure');
}
