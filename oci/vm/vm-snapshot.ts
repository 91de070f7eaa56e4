// A stopped VM's device state saved to a file, and a new QEMU resumed from it, through QEMU's
// migration. The guest's RAM is not in the stream (x-ignore-shared): it is the memory file a
// template writes and its clones map copy-on-write.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Socket, createServer } from 'node:net';
import { finished } from 'node:stream/promises';
import { DeadlineExceededError, InternalError } from '../../system/errors';
import { waitUntil } from '../../system/wait-until';
import { withTimeout } from '../../system/with-timeout';
import { INCOMING_STATE_FD } from './qemu-process';
import type { QmpClient } from './qmp-client';

const POLL_MS = 10;
const CALL_TIMEOUT_MS = 5_000;
const IGNORE_SHARED_RAM = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };

interface MigrationStatus {
  status?: string;
  'error-desc'?: string;
}

/** Waits until the migration QEMU runs, outgoing or incoming, has completed; a failed one throws. */
async function migrationDone(qmp: QmpClient, what: string, timeoutMs: number): Promise<void> {
  let last: MigrationStatus = {};
  const ended = await waitUntil(
    async () => {
      last = (await qmp.execute('query-migrate', undefined, CALL_TIMEOUT_MS)) as MigrationStatus;
      return last.status === 'completed' || last.status === 'failed' || last.status === 'cancelled';
    },
    timeoutMs,
    POLL_MS,
  );
  if (!ended) throw new DeadlineExceededError(`${what} did not complete within ${timeoutMs} ms (status ${last.status ?? 'unknown'})`);
  if (last.status !== 'completed') throw new InternalError(`${what} ${last.status ?? 'failed'}: ${last['error-desc'] ?? 'QEMU gave no reason'}`);
}

/**
 * Stops the VM and writes its device state to `statePath`. QEMU 7.2 writes a migration only to
 * a socket or a command; a socket of ours (`socketPath`) takes it, so no shell is involved.
 */
export async function saveVmState(qmp: QmpClient, statePath: string, socketPath: string, timeoutMs: number): Promise<void> {
  await qmp.execute('stop', undefined, CALL_TIMEOUT_MS);
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED_RAM, CALL_TIMEOUT_MS);
  const file = createWriteStream(statePath, { mode: 0o600 });
  let connection: Socket | undefined;
  const server = createServer((socket) => {
    connection ??= socket;
    if (socket !== connection) socket.destroy();
    else socket.pipe(file);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, resolve);
    });
    await qmp.execute('migrate', { uri: `unix:${socketPath}` }, CALL_TIMEOUT_MS);
    await migrationDone(qmp, 'saving the VM', timeoutMs);
    // The stream ends when QEMU closes its end, just after it reports completion.
    await withTimeout(finished(file), CALL_TIMEOUT_MS, 'the saved VM state was not written out in time');
  } finally {
    connection?.destroy();
    file.destroy();
    server.close();
    await rm(socketPath, { force: true });
  }
}

/** Takes in the state QEMU was given as its fd 3 (it was started with `-incoming defer`) and runs the VM. */
export async function resumeVmState(qmp: QmpClient, timeoutMs: number): Promise<void> {
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED_RAM, CALL_TIMEOUT_MS);
  await qmp.execute('migrate-incoming', { uri: `fd:${INCOMING_STATE_FD}` }, CALL_TIMEOUT_MS);
  await migrationDone(qmp, 'resuming the saved VM', timeoutMs);
  await qmp.execute('cont', undefined, CALL_TIMEOUT_MS);
}
