import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError, errorMessage } from '../../system/errors';
import type { Logger } from '../../system/logger';
import type { TerminalSize } from '../stream-io';

// conmon's control FIFO takes lines "<type> <height> <width>": type 1 resizes the terminal,
// type 2 reopens the log (its size fields are ignored).
const RESIZE = 1;
export const REOPEN_LOG_MESSAGE = '2 0 0\n';

/** conmon makes its control FIFO `ctl` in its bundle directory. */
export function controlFifo(dir: string): string {
  return join(dir, 'ctl');
}

/** Writes one message to conmon's control FIFO; fails at once when no conmon reads it. */
export async function sendControlMessage(fifo: string, message: string): Promise<void> {
  let handle;
  try {
    // Non-blocking: with no conmon reading the FIFO the open fails instead of hanging.
    handle = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new InternalError(`cannot open ${fifo}: ${errorMessage(error)}`);
  }
  try {
    await handle.write(message);
  } finally {
    await handle.close();
  }
}

/**
 * Passes each terminal size the client reports to conmon until the returned function is called.
 * One write per size: conmon before 2.2 acts on only the first of several lines it reads at
 * once, so two sizes reaching the FIFO before conmon reads it leave the earlier one in effect.
 */
export function forwardResizes(fifo: string, resizes: AsyncIterable<TerminalSize>, logger: Logger): () => void {
  let active = true;
  void (async () => {
    for await (const size of resizes) {
      if (!active) break;
      const message = `${RESIZE} ${Math.trunc(size.height)} ${Math.trunc(size.width)}\n`;
      await sendControlMessage(fifo, message).catch((error: unknown) => logger.debug('terminal resize not delivered', { fifo, error: errorMessage(error) }));
    }
  })().catch((error: unknown) => logger.debug('terminal sizes stopped', { fifo, error: errorMessage(error) }));
  return () => {
    active = false;
  };
}
