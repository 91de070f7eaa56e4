import { quoteName } from './layer-errors';
import type { Xattr } from './xattr-restore';

export type NodeKind = 'directory' | 'symlink' | 'whiteout' | 'other';

/** What the layer has put at one path. */
export interface LayerNode {
  kind: NodeKind;
  /** Directories: their entries by name. */
  children?: Map<string, LayerNode>;
  /** Directories from the tar: the mtime (seconds) to set once everything inside them is written. */
  mtime?: number;
  /** Extended attributes, set for the whole layer at the end (one process, not one per file). */
  xattrs?: Xattr[];
}

/** Where one entry goes: the directory holding it, and what is there already. */
export interface Slot {
  siblings: Map<string, LayerNode>;
  leaf: string;
  existing: LayerNode | undefined;
}

/** Builds the error for a path the tree refuses; the caller knows which entry it is about. */
export type Refuse = (problem: string) => Error;

export function directoryNode(): LayerNode {
  return { kind: 'directory', children: new Map() };
}

/**
 * Everything the layer has written, by path. The layer directory starts empty and only the unpacker
 * writes to it, so this is an exact picture of the disk: it tells which parents are real directories,
 * and which are symlinks that must never be written through, without a stat per path. A replaced
 * directory takes its subtree with it, so nothing recorded below it can be reached again.
 */
export class LayerTree {
  readonly root = directoryNode();

  /** `makeDirectory` makes a directory the entries imply but the tar has not listed (yet). */
  constructor(private readonly makeDirectory: (parts: string[]) => Promise<void>) {}

  /** The node at `parts`, if any. Refuses a path through a symlink or non-directory. */
  find(parts: string[], refuse: Refuse): LayerNode | undefined {
    let node: LayerNode | undefined = this.root;
    for (let depth = 0; node && depth < parts.length; depth++) node = childrenOf(node, parts, depth, refuse).get(parts[depth]);
    return node;
  }

  /** The slot for `parts` (not the root), making missing parent directories first. */
  async slot(parts: string[], refuse: Refuse): Promise<Slot> {
    let node = this.root;
    for (let depth = 0; depth < parts.length - 1; depth++) {
      const children = childrenOf(node, parts, depth, refuse);
      let child = children.get(parts[depth]);
      if (!child) {
        await this.makeDirectory(parts.slice(0, depth + 1));
        child = directoryNode();
        children.set(parts[depth], child);
      }
      node = child;
    }
    const leaf = parts[parts.length - 1];
    const siblings = childrenOf(node, parts, parts.length - 1, refuse);
    return { siblings, leaf, existing: siblings.get(leaf) };
  }

  /** Every node with its path, the root first. */
  *walk(): Generator<[string[], LayerNode]> {
    const pending: Array<[string[], LayerNode]> = [[[], this.root]];
    for (let next = pending.pop(); next; next = pending.pop()) {
      yield next;
      const [parts, node] = next;
      for (const [name, child] of node.children ?? []) pending.push([[...parts, name], child]);
    }
  }
}

/** The entries of the directory at parts[0..depth), refusing if that is a symlink or not a directory. */
function childrenOf(node: LayerNode, parts: string[], depth: number, refuse: Refuse): Map<string, LayerNode> {
  const path = (): string => quoteName(parts.slice(0, depth).join('/'));
  if (node.kind === 'symlink') throw refuse(`passes through the symlink ${path()}`);
  if (!node.children) throw refuse(`lies below ${path()}, which is not a directory`);
  return node.children;
}
