import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';

export class SocketInUseError extends Error {}

// How long to wait for a live daemon to accept a probe connection.
const PROBE_TIMEOUT_MS = 2000;

/** Whether something accepts connections on the unix socket at `path`. */
function isServed(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SocketInUseError(`${path} exists but its server does not answer within ${PROBE_TIMEOUT_MS} ms`));
    }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED') resolve(false);
      else reject(error);
    });
  });
}

/**
 * Makes `path` free for a new listener: a socket left by a daemon that died is removed, but a
 * socket some live server answers on, or a file that is not a socket, is refused.
 */
export async function claimSocketPath(path: string): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; refusing to replace it`);
  if (await isServed(path)) throw new SocketInUseError(`another instance is already serving ${path}`);
  await unlink(path);
}
