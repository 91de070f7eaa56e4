// Terminal sizes from a resize stream. client-go writes one JSON object per resize
// ({"Width":w,"Height":h}, newline-terminated by its encoder); objects are split by brace
// depth so concatenated objects work too. A malformed object is skipped, not fatal.
import type { Readable } from 'node:stream';
import type { TerminalSize } from '../oci/stream-io';
import { AsyncQueue } from './async-queue';

/** A pending object larger than this is garbage, not a size. */
const MAX_OBJECT_BYTES = 4096;

function toSize(text: string): TerminalSize | undefined {
  try {
    const value = JSON.parse(text) as { Width?: unknown; Height?: unknown };
    const { Width: width, Height: height } = value;
    if (typeof width !== 'number' || typeof height !== 'number') return undefined;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0 || width > 0xffff || height > 0xffff) return undefined;
    return { width, height };
  } catch {
    return undefined;
  }
}

export function readResizes(stream: Readable): AsyncIterable<TerminalSize> {
  const queue = new AsyncQueue<TerminalSize>();
  let pending = '';
  let depth = 0;
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    for (const char of text) {
      if (depth === 0 && char !== '{') continue;
      pending += char;
      if (char === '{') depth++;
      if (char === '}') depth--;
      if (depth === 0) {
        const size = toSize(pending);
        if (size) queue.push(size);
        pending = '';
      } else if (pending.length > MAX_OBJECT_BYTES) {
        pending = '';
        depth = 0;
      }
    }
  });
  stream.on('end', () => queue.end());
  stream.on('close', () => queue.end());
  return queue;
}
