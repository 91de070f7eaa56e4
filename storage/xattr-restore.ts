import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InternalError, errorMessage } from '../system/errors';

const run = promisify(execFile);
// One setfattr call covers a whole layer; a layer labelling every file (SELinux) can mean 100k+ calls to setxattr.
const SETFATTR_TIMEOUT_MS = 5 * 60 * 1000;

export interface Xattr {
  /** The attribute name as a byte string, e.g. "security.capability". */
  name: string;
  value: Buffer;
}

export interface XattrTarget {
  path: Buffer;
  xattrs: Xattr[];
}

/**
 * Sets all the attributes with one `setfattr --restore`, instead of one process per file (Node has no
 * setxattr). Symlinks are not followed (-h), so a path whose last component is a symlink gets the
 * attributes itself; parent components must not be symlinks, which the caller guarantees.
 */
export async function restoreXattrs(targets: XattrTarget[], signal?: AbortSignal): Promise<void> {
  if (targets.length === 0) return;
  // setfattr 2.5 applies --restore as soon as it parses it, so -h must come first.
  const setfattr = run('setfattr', ['-h', '--restore=-'], { timeout: SETFATTR_TIMEOUT_MS, signal, maxBuffer: 1024 * 1024 });
  const stdin = setfattr.child.stdin;
  if (!stdin) throw new InternalError('setfattr has no stdin');
  // If setfattr dies early the write fails with EPIPE; its exit status is what gets reported.
  stdin.on('error', () => undefined);
  stdin.end(dumpOf(targets));
  try {
    await setfattr;
  } catch (error) {
    const stderr = error instanceof Error && 'stderr' in error ? String(error.stderr).trim() : '';
    const detail = stderr !== '' ? stderr : errorMessage(error);
    throw new InternalError(`setfattr could not set extended attributes: ${detail}`);
  }
}

/** The `getfattr --dump` format: "# file: PATH", then "NAME=0xHEX" lines, then a blank line. */
function dumpOf(targets: XattrTarget[]): Buffer {
  const lines: string[] = [];
  for (const { path, xattrs } of targets) {
    lines.push(`# file: ${escaped(path)}`);
    for (const { name, value } of xattrs) lines.push(`${escaped(Buffer.from(name, 'latin1'))}=0x${value.toString('hex')}`);
    lines.push('');
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

/** Every byte setfattr's parser could misread (line breaks, spaces, "=", "\", non-ASCII) as its \ooo escape. */
function escaped(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) {
    const plain = byte > 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x3d;
    text += plain ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return text;
}
