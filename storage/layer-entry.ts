// What one tar entry asks for, checked before anything touches the disk.

import type { Header } from 'tar-stream';
import { quoteName, unsafeEntry } from './layer-errors';
import { entryComponents, hardLinkComponents, whiteoutOf } from './layer-paths';
import type { SpecialFileType } from './special-files';
import type { RawEntryHeaders } from './tar-header-bytes';
import type { Xattr } from './xattr-restore';

export interface EntryMetadata {
  uid: number;
  gid: number;
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  /** Seconds since the epoch, fractional when a PAX header gives more precision. */
  mtime: number;
  xattrs: Xattr[];
}

interface Placed {
  /** The name as written in the tar (a byte string), for messages. */
  name: string;
  parts: string[];
  meta: EntryMetadata;
}

export type EntryPlan =
  | { kind: 'skip' }
  | { kind: 'opaque'; name: string; directory: string[] }
  | { kind: 'whiteout'; name: string; hidden: string[] }
  | (Placed & { kind: 'directory' | 'file' })
  | (Placed & { kind: 'symlink'; target: string })
  | (Placed & { kind: 'hardlink'; target: string[] })
  | (Placed & { kind: 'special'; type: SpecialFileType; major: number; minor: number });

const XATTR_PAX_PREFIX = 'SCHILY.xattr.';
const XATTR_NAMESPACES = /^(user|trusted|security|system)\../;
// overlayfs reads its own state from these; a layer must not forge opaque dirs, redirects or metacopy files.
const OVERLAY_XATTRS = /^(trusted|user)\.overlay\./;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const MAX_ID = 0xfffffffe;

/** Decides what entry `header` (tar-stream's decoding) with `raw` (its lossless header bytes) will do. */
export function planEntry(header: Header, raw: RawEntryHeaders): EntryPlan {
  const kind = kindOf(header, raw);
  if (kind === 'skip') return { kind };
  const { name } = raw;
  const parts = entryComponents(name);
  const whiteout = whiteoutOf(name, parts);
  if (whiteout?.kind === 'aufs-metadata') return { kind: 'skip' };
  if (whiteout) return { ...whiteout, name };
  if (parts.length === 0 && kind !== 'directory') throw unsafeEntry(name, 'is the layer root but not a directory');
  const meta = metadataOf(name, header, raw.pax, kind);
  const placed = { name, parts, meta };
  switch (kind) {
    case 'directory':
    case 'file':
      return { ...placed, kind };
    case 'symlink':
      if (raw.linkname === '' || raw.linkname.includes('\0')) throw unsafeEntry(name, 'is a symlink without a usable target');
      return { ...placed, kind, target: raw.linkname };
    case 'hardlink':
      return { ...placed, kind, target: hardLinkComponents(name, raw.linkname) };
    default:
      return { ...placed, kind: 'special', type: kind, major: deviceNumber(name, header.devmajor), minor: deviceNumber(name, header.devminor) };
  }
}

type EntryKind = 'skip' | 'directory' | 'file' | 'symlink' | 'hardlink' | SpecialFileType;

function kindOf(header: Header, raw: RawEntryHeaders): EntryKind {
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      if ([...raw.pax.keys()].some((key) => key.startsWith('GNU.sparse.'))) {
        throw unsafeEntry(raw.name, 'is a sparse file, which is not supported');
      }
      return 'file';
    case 'directory':
    case 'symlink':
    case 'character-device':
    case 'block-device':
    case 'fifo':
      return header.type;
    case 'link':
      return 'hardlink';
    default:
      // tar-stream types only what it knows; a volume label is harmless metadata, anything else is refused.
      if (raw.typeflag === 'V') return 'skip';
      if (raw.typeflag === 'S') throw unsafeEntry(raw.name, 'is a GNU sparse file, which is not supported');
      throw unsafeEntry(raw.name, `has the unsupported tar entry type ${JSON.stringify(raw.typeflag)}`);
  }
}

function metadataOf(name: string, header: Header, pax: Map<string, Buffer>, kind: EntryKind): EntryMetadata {
  const uid = paxNumber(name, pax, 'uid') ?? header.uid;
  const gid = paxNumber(name, pax, 'gid') ?? header.gid;
  if (![uid, gid].every((id) => Number.isSafeInteger(id) && id >= 0 && id <= MAX_ID)) {
    throw unsafeEntry(name, `has an invalid owner ${uid}:${gid}`);
  }
  const mtime = paxNumber(name, pax, 'mtime') ?? header.mtime.getTime() / 1000;
  if (!Number.isFinite(mtime)) throw unsafeEntry(name, 'has an invalid modification time');
  return { uid, gid, mode: header.mode & 0o7777, mtime, xattrs: xattrsOf(name, pax, kind) };
}

/** A decimal PAX value (uid, gid, or a possibly fractional, possibly negative time). */
function paxNumber(name: string, pax: Map<string, Buffer>, key: string): number | undefined {
  const value = pax.get(key)?.toString('latin1');
  if (value === undefined || value === '') return undefined;
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(value)) throw unsafeEntry(name, `has an invalid PAX ${key} ${JSON.stringify(value)}`);
  return Number(value);
}

function xattrsOf(name: string, pax: Map<string, Buffer>, kind: EntryKind): Xattr[] {
  const xattrs: Xattr[] = [];
  for (const [key, value] of pax) {
    if (!key.startsWith(XATTR_PAX_PREFIX)) continue;
    const attribute = key.slice(XATTR_PAX_PREFIX.length);
    const quoted = quoteName(attribute);
    if (!XATTR_NAMESPACES.test(attribute) || attribute.length > XATTR_NAME_MAX) {
      throw unsafeEntry(name, `has the extended attribute ${quoted}, which Linux cannot store`);
    }
    if (OVERLAY_XATTRS.test(attribute)) throw unsafeEntry(name, `sets the overlayfs attribute ${quoted}; layers use whiteouts for that`);
    // Linux refuses user.* attributes on anything but regular files and directories.
    if (attribute.startsWith('user.') && !['file', 'directory', 'hardlink'].includes(kind)) {
      throw unsafeEntry(name, `has the extended attribute ${quoted}, which Linux cannot store on a ${kind}`);
    }
    if (value.length > XATTR_SIZE_MAX) throw unsafeEntry(name, `has an extended attribute ${quoted} larger than Linux allows`);
    xattrs.push({ name: attribute, value });
  }
  return xattrs;
}

function deviceNumber(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw unsafeEntry(name, 'has an invalid device number');
  return value;
}
