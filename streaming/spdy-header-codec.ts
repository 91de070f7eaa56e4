// SPDY/3 header compression: one zlib context per direction for the whole session, each header
// block sync-flushed, so later blocks may refer back to earlier ones (both peers must keep the
// same history). Operations are queued so blocks go through the context in frame order.
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { InvalidArgumentError } from '../system/errors';
import { SPDY3_DICTIONARY } from './spdy-dictionary';
import { decodeHeaderBlock, encodeHeaderBlock, type SpdyHeaders } from './spdy-frames';

class ZlibContext {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly stream: Deflate | Inflate) {
    stream.on('error', (error: Error) => {
      this.failure = error;
    });
  }

  /** Feeds `input` through the context and answers everything it produced. */
  process(input: Buffer): Promise<Buffer> {
    const result = this.queue.then(() => this.run(input));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private run(input: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) {
        reject(new InvalidArgumentError(`SPDY header compression failed: ${this.failure.message}`));
        return;
      }
      const onError = (error: Error): void => reject(new InvalidArgumentError(`SPDY header block is not valid zlib: ${error.message}`));
      this.stream.once('error', onError);
      this.stream.write(input);
      this.stream.flush(constants.Z_SYNC_FLUSH, () => {
        this.stream.off('error', onError);
        const parts: Buffer[] = [];
        for (let chunk: Buffer | null = this.stream.read(); chunk !== null; chunk = this.stream.read()) parts.push(chunk);
        resolve(Buffer.concat(parts));
      });
    });
  }

  close(): void {
    this.stream.destroy();
  }
}

/** Compresses the header blocks one side sends. */
export class HeaderCompressor {
  private readonly context = new ZlibContext(createDeflate({ dictionary: SPDY3_DICTIONARY }));

  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.context.process(encodeHeaderBlock(headers));
  }

  close(): void {
    this.context.close();
  }
}

/** Decompresses the header blocks the other side sends. */
export class HeaderDecompressor {
  private readonly context = new ZlibContext(createInflate({ dictionary: SPDY3_DICTIONARY }));

  async decompress(block: Buffer): Promise<SpdyHeaders> {
    return decodeHeaderBlock(await this.context.process(block));
  }

  close(): void {
    this.context.close();
  }
}
