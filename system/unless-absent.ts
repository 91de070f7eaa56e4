import { errorCode } from './error-code';

/** What `work` gives, or `absent` when it failed because its path does not exist. */
export async function unlessAbsent<T, A>(work: Promise<T>, absent: A): Promise<T | A> {
  try {
    return await work;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return absent;
    throw error;
  }
}

/** unlessAbsent for a synchronous `read` (on a thread whose job is to wait on such calls). */
export function unlessAbsentSync<T, A>(read: () => T, absent: A): T | A {
  try {
    return read();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return absent;
    throw error;
  }
}
