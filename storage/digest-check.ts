import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { InternalError } from '../system/errors';

// Content addressing: everything fetched is checked against the digest that named it, since a
// mirror, a proxy or a blob store in between may be wrong or hostile.

export const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Passes bytes through while hashing and counting them. Fails as soon as more arrive than the
 * descriptor's size, so a server cannot fill the disk.
 */
export class DigestCheck extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number,
    private readonly onProgress: ((bytes: number) => void) | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.expectedSize) {
      callback(new InternalError(`blob ${this.expectedDigest} failed verification: got more than ${this.expectedSize} bytes`));
      return;
    }
    this.hash.update(chunk);
    this.onProgress?.(this.count);
    callback(null, chunk);
  }

  /** Throws unless what passed through has exactly the expected digest and size. */
  verify(): void {
    const digest = `sha256:${this.hash.digest('hex')}`;
    if (digest !== this.expectedDigest || this.count !== this.expectedSize) {
      throw new InternalError(`blob ${this.expectedDigest} failed verification: got ${digest}, ${this.count} bytes`);
    }
  }
}
