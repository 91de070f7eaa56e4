import { chmod, lchown, link, lutimes, mkdir, rm, symlink, unlink } from 'node:fs/promises';
import { InternalError, PodvisorError, errorMessage } from '../system/errors';
import type { EntryMetadata, EntryPlan } from './layer-entry';
import { quoteName, unsafeEntry } from './layer-errors';
import { hostPath } from './layer-paths';
import { LayerTree, directoryNode, type LayerNode, type Refuse, type Slot } from './layer-tree';
import { RegularFiles } from './regular-files';
import { SpecialFiles } from './special-files';
import { restoreXattrs, type Xattr, type XattrTarget } from './xattr-restore';

// Directories the tar implies but does not list, as containerd and Docker make them.
const IMPLIED_DIRECTORY_MODE = 0o755;
const OPAQUE: Xattr = { name: 'trusted.overlay.opaque', value: Buffer.from('y') };

type Placed = Extract<EntryPlan, { parts: string[] }>;

/**
 * Writes planned entries into one layer directory, which must start empty. Nothing is ever written
 * through a symlink: parents are checked against the layer's own tree, an existing entry is removed
 * before its replacement is made, and files are created exclusively. Calls by path are awaited in
 * entry order, since a later entry may replace what the path leads through.
 */
export class LayerWriter {
  private readonly tree = new LayerTree((parts) => this.makeImpliedDirectory(parts));
  private readonly root: Buffer;
  private readonly regularFiles = new RegularFiles();
  private readonly specialFiles: SpecialFiles;

  constructor(
    dest: string,
    private readonly signal?: AbortSignal,
  ) {
    this.root = Buffer.from(dest);
    this.specialFiles = new SpecialFiles(dest, signal);
  }

  /** Applies one entry. `data` is its content; only regular files read it. */
  async write(plan: EntryPlan, data: AsyncIterable<unknown>): Promise<void> {
    if (plan.kind === 'skip') return;
    try {
      await this.apply(plan, data);
    } catch (error) {
      if (error instanceof PodvisorError) throw error;
      throw new InternalError(`writing layer entry ${quoteName(plan.name)}: ${errorMessage(error)}`);
    }
  }

  /** Sets what must wait for the whole layer: extended attributes, then directory times. */
  async finish(): Promise<void> {
    await this.regularFiles.drain();
    await this.specialFiles.finish();
    const xattrs: XattrTarget[] = [];
    const directoryTimes: Array<[Buffer, number]> = [];
    for (const [parts, node] of this.tree.walk()) {
      if (node.xattrs?.length) xattrs.push({ path: this.path(parts), xattrs: node.xattrs });
      if (node.mtime !== undefined) directoryTimes.push([this.path(parts), node.mtime]);
    }
    await restoreXattrs(xattrs, this.signal);
    // Last, because writing anything into a directory changes its mtime.
    for (const [path, mtime] of directoryTimes) await lutimes(path, mtime, mtime);
  }

  /** Waits for all background work, whatever its outcome, so that no file is left open. */
  settled(): Promise<void> {
    return this.regularFiles.settled();
  }

  private async apply(plan: Exclude<EntryPlan, { kind: 'skip' }>, data: AsyncIterable<unknown>): Promise<void> {
    const refuse: Refuse = (problem) => unsafeEntry(plan.name, problem);
    switch (plan.kind) {
      case 'opaque':
        return this.markOpaque(plan.directory, refuse);
      case 'whiteout':
        return this.whiteout(plan.hidden, refuse);
      case 'hardlink':
        return this.hardLink(plan, refuse);
      default:
        return plan.parts.length === 0 ? this.updateRoot(plan.meta) : this.create(plan, data, refuse);
    }
  }

  private async create(plan: Exclude<Placed, { kind: 'hardlink' }>, data: AsyncIterable<unknown>, refuse: Refuse): Promise<void> {
    const slot = await this.tree.slot(plan.parts, refuse);
    const path = this.path(plan.parts);
    const { meta } = plan;
    if (plan.kind === 'directory' && slot.existing?.kind === 'directory') {
      // A directory listed again keeps its contents and takes the new owner, mode and time.
      await this.setOwnerAndMode(path, meta);
      this.addXattrs(slot.existing, meta.xattrs);
      slot.existing.mtime = meta.mtime;
      return;
    }
    await this.clear(slot, path);
    let node: LayerNode;
    switch (plan.kind) {
      case 'directory':
        await mkdir(path);
        await this.setOwnerAndMode(path, meta);
        node = { ...directoryNode(), mtime: meta.mtime };
        break;
      case 'file':
        await this.regularFiles.write(path, meta, data);
        node = { kind: 'other' };
        break;
      case 'symlink':
        await symlink(Buffer.from(plan.target, 'latin1'), path);
        await lchown(path, meta.uid, meta.gid);
        await lutimes(path, meta.mtime, meta.mtime);
        node = { kind: 'symlink' };
        break;
      case 'special':
        await this.specialFiles.make(path, plan.type, plan.major, plan.minor);
        await this.setOwnerAndMode(path, meta);
        await lutimes(path, meta.mtime, meta.mtime);
        node = { kind: 'other' };
        break;
    }
    this.addXattrs(node, meta.xattrs);
    slot.siblings.set(slot.leaf, node);
  }

  private async hardLink(plan: Extract<Placed, { kind: 'hardlink' }>, refuse: Refuse): Promise<void> {
    const { target } = plan;
    const targetName = quoteName(target.join('/'));
    const existing = this.tree.find(target, (problem) => refuse(`is a hard link to ${targetName}, which ${problem}`));
    if (!existing || existing.kind === 'whiteout') throw refuse(`is a hard link to ${targetName}, which is not in this layer`);
    if (existing.kind === 'directory') throw refuse(`is a hard link to the directory ${targetName}`);
    if (plan.parts.every((part, index) => target[index] === part)) {
      throw refuse(`is a hard link to ${targetName}, which it would replace`);
    }
    const slot = await this.tree.slot(plan.parts, refuse);
    const path = this.path(plan.parts);
    await this.clear(slot, path);
    // link(2) does not follow a symlink target: linking to a symlink links the symlink itself.
    await link(this.path(target), path);
    const node: LayerNode = { kind: existing.kind };
    this.addXattrs(node, plan.meta.xattrs);
    slot.siblings.set(slot.leaf, node);
  }

  private async whiteout(hidden: string[], refuse: Refuse): Promise<void> {
    const slot = await this.tree.slot(hidden, refuse);
    // Whiteouts hide what lower layers have; an entry of this very layer at that path stays.
    if (slot.existing) return;
    await this.specialFiles.whiteout(this.path(hidden));
    slot.siblings.set(slot.leaf, { kind: 'whiteout' });
  }

  /** Marks `directory` opaque, making it first if this layer has not. */
  private async markOpaque(directory: string[], refuse: Refuse): Promise<void> {
    if (directory.length === 0) {
      this.addXattrs(this.tree.root, [OPAQUE]);
      return;
    }
    const slot = await this.tree.slot(directory, refuse);
    if (slot.existing && slot.existing.kind !== 'directory') {
      throw refuse(`marks ${quoteName(directory.join('/'))} opaque, which is not a directory`);
    }
    let node = slot.existing;
    if (!node) {
      await this.makeImpliedDirectory(directory);
      node = directoryNode();
      slot.siblings.set(slot.leaf, node);
    }
    this.addXattrs(node, [OPAQUE]);
  }

  private async updateRoot(meta: EntryMetadata): Promise<void> {
    await this.setOwnerAndMode(this.root, meta);
    this.addXattrs(this.tree.root, meta.xattrs);
    this.tree.root.mtime = meta.mtime;
  }

  /** Removes what an earlier entry put at the slot (a directory with all it holds): never written through. */
  private async clear(slot: Slot, path: Buffer): Promise<void> {
    if (!slot.existing) return;
    if (slot.existing.kind === 'directory') await rm(path, { recursive: true });
    else await unlink(path);
    slot.siblings.delete(slot.leaf);
  }

  private async makeImpliedDirectory(parts: string[]): Promise<void> {
    const path = this.path(parts);
    await mkdir(path);
    await chmod(path, IMPLIED_DIRECTORY_MODE);
  }

  /** Owner first: chown clears setuid and setgid, which the mode then sets back. */
  private async setOwnerAndMode(path: Buffer, meta: EntryMetadata): Promise<void> {
    await lchown(path, meta.uid, meta.gid);
    await chmod(path, meta.mode);
  }

  private addXattrs(node: LayerNode, xattrs: Xattr[]): void {
    if (xattrs.length > 0) node.xattrs = [...(node.xattrs ?? []), ...xattrs];
  }

  private path(parts: string[]): Buffer {
    return hostPath(this.root, parts);
  }
}
