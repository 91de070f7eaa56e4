import { createHash } from 'node:crypto';
import { opendir } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { diskFullError } from '../system/disk-full';
import { FailedPreconditionError, InternalError, InvalidArgumentError, PodvisorError, errorMessage } from '../system/errors';
import { openLayerStream, type LayerCompression, type LayerStream } from './layer-compression';
import { planEntry } from './layer-entry';
import { LayerWriter } from './layer-writer';
import { TarHeaderTap } from './tar-header-bytes';

export { compressionOfMediaType, type LayerCompression } from './layer-compression';
export { UnsafeLayerError } from './layer-errors';

export interface UnpackedLayer {
  /** sha256 of the uncompressed tar stream, "sha256:<hex>": the image config's rootfs.diff_ids entry. */
  diffId: string;
  /** Bytes of the uncompressed tar stream. */
  uncompressedSize: number;
}

/**
 * Unpacks one layer (the compressed blob as stored, read from `blobPath`) into `dest`, an existing empty directory,
 * producing exactly what overlayfs expects of a lower layer: owners, modes, times, devices and xattrs as the
 * tar has them, whiteouts as 0:0 character devices and opaque directories as trusted.overlay.opaque=y.
 *
 * `compression` is what the media type declares (see compressionOfMediaType); the blob's magic bytes win
 * where they disagree. A layer that would write outside `dest` (absolute or ".." names, writes through its
 * own symlinks, hard links out of the layer) is refused whole with UnsafeLayerError; symlink targets
 * themselves are kept as written, since they resolve inside the container.
 *
 * Rejects on any failure, and when `signal` aborts (with its reason). `dest` is then left partly written and
 * the caller must remove it; no decompressor process or open file outlives the call.
 */
export async function unpackLayer(blobPath: string, compression: LayerCompression, dest: string, signal?: AbortSignal): Promise<UnpackedLayer> {
  try {
    signal?.throwIfAborted();
    await requireEmptyDirectory(dest);
    const layer = await openLayerStream(blobPath, compression);
    try {
      return await unpackTar(layer, dest, signal);
    } finally {
      await layer.close();
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const full = diskFullError(error, `layer ${blobPath} unpacked into ${dest}`);
    if (full) throw full;
    if (error instanceof PodvisorError) throw error;
    // Node's system errors name a syscall: a fault here, not in the layer.
    if (error instanceof Error && 'syscall' in error) throw new InternalError(`unpacking layer ${blobPath}: ${error.message}`);
    throw new InvalidArgumentError(`layer ${blobPath} is not a valid layer tar stream: ${errorMessage(error)}`);
  }
}

async function unpackTar(layer: LayerStream, dest: string, signal?: AbortSignal): Promise<UnpackedLayer> {
  const digest = new DigestTap();
  const headers = new TarHeaderTap();
  const parser = extract();
  let streamError: unknown;
  const flowing = pipeline(layer.tar, digest, headers, parser, { signal }).catch((error: unknown) => {
    streamError = error;
  });
  const writer = new LayerWriter(dest, signal);
  try {
    for await (const entry of parser) {
      const dataLength = framedDataLength(entry.header);
      await writer.write(planEntry(entry.header, headers.entryHeaders(entry.offset, dataLength)), entry);
      if (dataLength > 0) await discard(entry);
    }
    await flowing;
    if (streamError !== undefined) throw streamError;
    await writer.finish();
    return { diffId: `sha256:${digest.hex()}`, uncompressedSize: digest.size };
  } finally {
    parser.destroy();
    await flowing;
    await writer.settled();
  }
}

/** The data bytes tar-stream reads after an entry's header: none for directories, whatever their size field says. */
function framedDataLength(header: Header): number {
  return header.type === 'directory' ? 0 : header.size;
}

/** Reads what the writer did not (data of non-files), so the parser moves on. */
async function discard(data: AsyncIterable<unknown>): Promise<void> {
  for await (const chunk of data) void chunk;
}

async function requireEmptyDirectory(dest: string): Promise<void> {
  const directory = await opendir(dest);
  try {
    if ((await directory.read()) !== null) throw new FailedPreconditionError(`layer directory ${dest} is not empty`);
  } finally {
    await directory.close();
  }
}

/** Hashes and counts the uncompressed tar as it flows past. */
class DigestTap extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}
