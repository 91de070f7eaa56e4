// tar-stream frames the archive and streams entry data, but it decodes PAX records and PAX names as
// UTF-8, which corrupts binary xattr values (security.capability) and names that are not UTF-8. This
// tap keeps the raw bytes between one entry's data and the next entry's header, so each entry's
// names and PAX records can be decoded losslessly, using tar-stream's own offsets for the framing.

import { Transform, type TransformCallback } from 'node:stream';
import { InternalError, InvalidArgumentError } from '../system/errors';
import { unsafeEntry } from './layer-errors';

const BLOCK = 512;
// tar-stream allows 4 MiB per long header; a few may precede one entry, plus what streams buffer ahead.
const MAX_RETAINED = 32 * 1024 * 1024;

/** What tar-stream reports lossily or not at all about one entry, from its raw header bytes. */
export interface RawEntryHeaders {
  /** The name as a byte string, after GNU long-name and PAX overrides. */
  name: string;
  /** The link target as a byte string, after GNU long-link and PAX overrides. */
  linkname: string;
  /** The typeflag character of the entry's own header. */
  typeflag: string;
  /** The entry's own PAX records (keys as byte strings). Global PAX headers are ignored, as Go's archive/tar does. */
  pax: Map<string, Buffer>;
}

/** Passes the tar stream through unchanged, remembering the header bytes that `entryHeaders` will ask for. */
export class TarHeaderTap extends Transform {
  private retained: Buffer[] = [];
  private retainedBytes = 0;
  /** Stream offset of the first byte of `retained` (bytes before it are not needed). */
  private keepFrom = 0;
  private position = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const start = this.position;
    this.position += chunk.length;
    if (this.position > this.keepFrom) {
      const kept = chunk.subarray(Math.max(0, this.keepFrom - start));
      this.retained.push(kept);
      this.retainedBytes += kept.length;
    }
    if (this.retainedBytes > MAX_RETAINED) {
      done(new InvalidArgumentError(`layer has more than ${MAX_RETAINED} bytes of tar headers before one entry`));
      return;
    }
    done(null, chunk);
  }

  /**
   * The raw headers of the entry whose own header starts at `headerOffset` (tar-stream's entry offset) and
   * whose data, as tar-stream frames it, is `dataLength` bytes. Entries must be taken in order.
   */
  entryHeaders(headerOffset: number, dataLength: number): RawEntryHeaders {
    const end = headerOffset + BLOCK;
    if (headerOffset < this.keepFrom || end > this.position) {
      throw new InternalError(`tar header bytes ${this.keepFrom}..${end} are not available`);
    }
    const headers = parseHeaders(this.slice(end - this.keepFrom));
    this.discardBefore(end + padded(dataLength));
    return headers;
  }

  private slice(length: number): Buffer {
    const chunks: Buffer[] = [];
    let collected = 0;
    for (const chunk of this.retained) {
      if (collected >= length) break;
      chunks.push(chunk);
      collected += chunk.length;
    }
    return Buffer.concat(chunks, length);
  }

  private discardBefore(offset: number): void {
    let drop = offset - this.keepFrom;
    this.keepFrom = offset;
    while (drop > 0 && this.retained.length > 0) {
      const first = this.retained[0];
      if (first.length <= drop) {
        this.retained.shift();
        this.retainedBytes -= first.length;
        drop -= first.length;
      } else {
        this.retained[0] = first.subarray(drop);
        this.retainedBytes -= drop;
        drop = 0;
      }
    }
  }
}

/** Parses the long headers (PAX, GNU long name/link) that precede an entry, and the entry's own header block. */
function parseHeaders(bytes: Buffer): RawEntryHeaders {
  const own = bytes.subarray(bytes.length - BLOCK);
  const ownName = ustarName(own);
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let position = 0;
  while (position < bytes.length - BLOCK) {
    const block = bytes.subarray(position, position + BLOCK);
    if (isNullHeader(block)) throw unsafeEntry(ownName, 'follows the end-of-archive marker');
    const size = numericField(block, 124, 12);
    const data = bytes.subarray(position + BLOCK, position + BLOCK + size);
    switch (String.fromCharCode(block[156])) {
      case 'x':
        pax = parsePax(ownName, data);
        break;
      case 'g':
        break;
      case 'L':
      case 'N':
        longName = cString(data, 0, data.length);
        break;
      case 'K':
        longLink = cString(data, 0, data.length);
        break;
      default:
        throw new InternalError(`unexpected tar header before layer entry at byte ${position}`);
    }
    position += BLOCK + padded(size);
  }
  if (position !== bytes.length - BLOCK) throw new InternalError('tar header framing disagrees with tar-stream');
  return {
    name: paxString(pax, 'path') ?? longName ?? ownName,
    linkname: paxString(pax, 'linkpath') ?? longLink ?? cString(own, 157, 100),
    typeflag: String.fromCharCode(own[156]),
    pax,
  };
}

function ustarName(block: Buffer): string {
  const name = cString(block, 0, 100);
  const isUstar = block.toString('latin1', 257, 263) === 'ustar\0';
  const prefix = isUstar ? cString(block, 345, 155) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** PAX records: "<length> <key>=<value>\n", length in decimal bytes including itself. */
function parsePax(entryName: string, data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let position = 0;
  while (position < data.length) {
    const space = data.indexOf(0x20, position);
    const lengthText = space < 0 ? '' : data.toString('latin1', position, space);
    const length = /^[0-9]+$/.test(lengthText) ? Number(lengthText) : NaN;
    const end = position + length;
    const equals = data.indexOf(0x3d, space);
    if (!Number.isSafeInteger(length) || end > data.length || equals < 0 || equals >= end || data[end - 1] !== 0x0a) {
      throw unsafeEntry(entryName, 'has a malformed PAX header');
    }
    records.set(data.toString('latin1', space + 1, equals), data.subarray(equals + 1, end - 1));
    position = end;
  }
  return records;
}

function paxString(pax: Map<string, Buffer>, key: string): string | undefined {
  const value = pax.get(key);
  return value && value.length > 0 ? value.toString('latin1') : undefined;
}

function cString(bytes: Buffer, offset: number, length: number): string {
  const end = bytes.subarray(offset, offset + length).indexOf(0);
  return bytes.toString('latin1', offset, end < 0 ? offset + length : offset + end);
}

/** What tar-stream skips as an empty header: all zero but for the checksum field (e.g. the end-of-archive blocks). */
function isNullHeader(block: Buffer): boolean {
  return block.every((byte, index) => byte === 0 || (index >= 148 && index < 156));
}

/** A tar numeric field as tar-stream reads it: base-256 if the first byte's high bit is set, else octal text. */
function numericField(block: Buffer, offset: number, length: number): number {
  if (block[offset] & 0x80) {
    let value = 0;
    for (let i = 1; i < length; i++) value = value * 256 + block[offset + i];
    return value;
  }
  const digits = /^[ \0]*([0-7]*)/.exec(block.toString('latin1', offset, offset + length));
  return digits && digits[1] !== '' ? parseInt(digits[1], 8) : 0;
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}
