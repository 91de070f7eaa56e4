import { spawn } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InternalError, InvalidArgumentError } from '../system/errors';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

const MEDIA_TYPES = new Map<string, LayerCompression>([
  ['application/vnd.oci.image.layer.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
  ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
  ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
  ['application/vnd.docker.image.rootfs.diff.tar.zstd', 'zstd'],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
]);

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
// zstd frames may be preceded by skippable frames, magic 0x184D2A50..5F (little-endian).
const ZSTD_SKIPPABLE = Buffer.from([0x2a, 0x4d, 0x18]);
// The ustar (and GNU) magic in the first tar header.
const TAR_MAGIC = Buffer.from('ustar');
const TAR_MAGIC_OFFSET = 257;
const STDERR_KEPT = 4096;
// How long a decompressor may take to go away once told to; a SIGKILLed zstd exits at once.
const CLOSE_TIMEOUT_MS = 10_000;

/** From an OCI or Docker layer media type (application/vnd.oci.image.layer.v1.tar, +gzip, +zstd, application/vnd.docker.image.rootfs.diff.tar.gzip, ...). Unknown types: undefined. */
export function compressionOfMediaType(mediaType: string): LayerCompression | undefined {
  return MEDIA_TYPES.get(mediaType.split(';')[0].trim().toLowerCase());
}

/** A layer blob being decompressed. */
export interface LayerStream {
  /** The uncompressed tar. Destroying it stops the decompression. */
  tar: Readable;
  /** Stops the decompression if it still runs and waits until its process and file are gone. */
  close(): Promise<void>;
}

/**
 * Opens the layer blob at `blobPath` as a tar stream. `declared` comes from the media type, but blobs are
 * mislabelled in the wild, so the blob's magic bytes win when they name a format.
 */
export async function openLayerStream(blobPath: string, declared: LayerCompression): Promise<LayerStream> {
  const file = await open(blobPath, 'r');
  try {
    const compression = (await sniff(file)) ?? declared;
    return compression === 'zstd' ? await zstdStream(file) : fileStream(file, compression);
  } catch (error) {
    await file.close();
    throw error;
  }
}

/** What the first bytes say the blob is, if they say anything. */
async function sniff(file: FileHandle): Promise<LayerCompression | undefined> {
  const head = Buffer.alloc(TAR_MAGIC_OFFSET + TAR_MAGIC.length);
  // A positioned read leaves the file offset at 0 for whoever reads the blob next (zstd inherits it).
  const { bytesRead } = await file.read(head, 0, head.length, 0);
  const at = (offset: number, magic: Buffer): boolean => offset + magic.length <= bytesRead && head.subarray(offset, offset + magic.length).equals(magic);
  if (at(0, GZIP_MAGIC)) return 'gzip';
  if (at(0, ZSTD_MAGIC) || (at(1, ZSTD_SKIPPABLE) && (head[0] & 0xf0) === 0x50)) return 'zstd';
  if (at(TAR_MAGIC_OFFSET, TAR_MAGIC)) return 'none';
  return undefined;
}

function fileStream(file: FileHandle, compression: 'gzip' | 'none'): LayerStream {
  const raw = file.createReadStream();
  const closed = new Promise<void>((resolve) => raw.once('close', resolve));
  const tar = compression === 'gzip' ? pipeline(raw, createGunzip(), () => undefined) : raw;
  return {
    tar,
    close: async () => {
      tar.destroy();
      raw.destroy();
      await within(closed, 'closing the layer blob');
    },
  };
}

/** Node has no zstd: `zstd -dc` reads the blob as its stdin; its stdout is the tar. */
async function zstdStream(file: FileHandle): Promise<LayerStream> {
  const child = spawn('zstd', ['-dcq'], { stdio: [file.fd, 'pipe', 'pipe'] });
  const { stdout, stderr } = child;
  if (!stdout || !stderr) {
    child.kill('SIGKILL');
    throw new InternalError('zstd was started without pipes');
  }
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  let diagnostics = '';
  stderr.on('data', (chunk: Buffer) => {
    diagnostics = (diagnostics + chunk.toString()).slice(0, STDERR_KEPT);
  });
  const tar = new PassThrough();
  // End only once zstd has exited, so a failure is reported as its error rather than as a short tar.
  stdout.pipe(tar, { end: false });
  child.once('error', (error) => tar.destroy(new InternalError(`cannot run zstd: ${error.message}`)));
  child.once('close', (code, signal) => {
    if (tar.destroyed) return;
    if (code === 0) tar.end();
    else tar.destroy(new InvalidArgumentError(`zstd could not decompress the layer (${signal ?? `exit ${code}`}): ${diagnostics.trim()}`));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  tar.once('close', kill);
  // Only now that every listener is on: zstd may end while the descriptor closes, and an end
  // nobody heard left the tar open forever. The child holds its own copy of the descriptor.
  await file.close();
  return {
    tar,
    close: async () => {
      tar.destroy();
      kill();
      await within(exited, 'stopping zstd');
    },
  };
}

async function within(done: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new InternalError(`${what} took longer than ${CLOSE_TIMEOUT_MS} ms`)), CLOSE_TIMEOUT_MS);
  });
  try {
    await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
