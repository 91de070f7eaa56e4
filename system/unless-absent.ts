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
