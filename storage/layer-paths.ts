// What a tar entry's name means inside the layer directory.
//
// Names are byte strings: JS strings holding one byte per character (latin1), so that names which
// are not valid UTF-8 reach the filesystem unchanged. They become Buffers only at the fs boundary.

import { quoteName, unsafeEntry } from './layer-errors';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
// AUFS kept its own bookkeeping under names with this prefix (e.g. ".wh..wh.plnk"); it means nothing to overlayfs.
const AUFS_METADATA_PREFIX = '.wh..wh.';

/**
 * The path components of an entry name below the layer directory; [] is the layer root.
 * "./" prefixes, empty and "." components are dropped; absolute names and ".." are refused.
 */
export function entryComponents(name: string): string[] {
  const parts = componentsOf(name);
  if (!parts) throw unsafeEntry(name, 'escapes the layer directory');
  return parts;
}

/** The components of a hard link's target, which must name an earlier entry of the same layer. */
export function hardLinkComponents(name: string, target: string): string[] {
  const parts = componentsOf(target);
  if (!parts) throw unsafeEntry(name, `is a hard link to ${quoteName(target)}, outside the layer directory`);
  return parts;
}

function componentsOf(name: string): string[] | undefined {
  if (name.startsWith('/') || name.includes('\0')) return undefined;
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  return parts.includes('..') ? undefined : parts;
}

/** An OCI whiteout entry, translated to what overlayfs expects. */
export type Whiteout =
  /** Hide `hidden` of the lower layers: a 0:0 character device in its place. */
  | { kind: 'whiteout'; hidden: string[] }
  /** Hide everything the lower layers have in `directory`: the overlay opaque xattr on it. */
  | { kind: 'opaque'; directory: string[] }
  /** AUFS bookkeeping, skipped. */
  | { kind: 'aufs-metadata' };

/** The whiteout an entry stands for, or undefined for an ordinary entry. */
export function whiteoutOf(name: string, parts: string[]): Whiteout | undefined {
  const leaf = parts.at(-1);
  if (leaf === undefined) return undefined;
  const parents = parts.slice(0, -1);
  if (parents.some((part) => part.startsWith(AUFS_METADATA_PREFIX))) return { kind: 'aufs-metadata' };
  if (parents.some((part) => part.startsWith(WHITEOUT_PREFIX))) throw unsafeEntry(name, 'lies inside a whiteout');
  if (leaf === OPAQUE_MARKER) return { kind: 'opaque', directory: parents };
  if (leaf.startsWith(AUFS_METADATA_PREFIX)) return { kind: 'aufs-metadata' };
  if (!leaf.startsWith(WHITEOUT_PREFIX)) return undefined;
  const hidden = leaf.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') throw unsafeEntry(name, 'is a whiteout of no valid name');
  return { kind: 'whiteout', hidden: [...parents, hidden] };
}

/** The host path of `parts` below `dest` (dest as UTF-8 bytes). */
export function hostPath(dest: Buffer, parts: string[]): Buffer {
  return parts.length === 0 ? dest : Buffer.concat([dest, Buffer.from(`/${parts.join('/')}`, 'latin1')]);
}
