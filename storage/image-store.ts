import { InvalidArgumentError } from '../system/errors';
import type { Logger } from '../system/logger';
import { RecordFiles } from '../system/record-files';
import { digestHex, isDigest } from './digest';
import { isImageRecord, type ImageRecord } from './image-record';
import { parseImageReference, referenceString, repositoryOf } from './image-reference';

// Shorter hex strings are too likely to be a tag or name; the same floor docker uses.
const MIN_ID_PREFIX = 3;
const HEX = /^[0-9a-f]+$/;

/** The images podvisord holds, found by ID, ID prefix, tag or repository digest. */
export class ImageStore {
  private readonly images = new Map<string, ImageRecord>();
  private readonly files: RecordFiles<ImageRecord>;

  constructor(dir: string, logger: Logger) {
    this.files = new RecordFiles(dir, isImageRecord, (image) => digestHex(image.id), logger);
  }

  async load(): Promise<void> {
    for (const image of (await this.files.readAll()).records) this.images.set(image.id, image);
  }

  list(): ImageRecord[] {
    return [...this.images.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  /**
   * The image a CRI image string names: an ID ("sha256:<hex>", the bare hex, or a unique
   * prefix of it), a tag or a repository digest. Undefined when none matches; an ID prefix
   * that matches several is InvalidArgument.
   */
  find(name: string): ImageRecord | undefined {
    const byId = this.images.get(name) ?? (isDigest(`sha256:${name}`) ? this.images.get(`sha256:${name}`) : undefined);
    if (byId) return byId;
    if (name.length >= MIN_ID_PREFIX && HEX.test(name)) {
      const matches = this.list().filter((image) => digestHex(image.id).startsWith(name));
      if (matches.length > 1) throw new InvalidArgumentError(`image ID prefix "${name}" is ambiguous`);
      if (matches.length === 1) return matches[0];
    }
    let reference;
    try {
      reference = parseImageReference(name);
    } catch {
      return undefined;
    }
    if (reference.digest) {
      const repoDigest = `${repositoryOf(reference)}@${reference.digest}`;
      return this.list().find((image) => image.repoDigests.includes(repoDigest) || image.id === reference.digest);
    }
    const tag = referenceString(reference);
    return this.list().find((image) => image.repoTags.includes(tag));
  }

  /**
   * Stores a pulled image. Its tags move to it from any other image holding them, as a
   * `docker pull` of a moved tag does; the image that lost them stays, untagged. The new record
   * is written first, so a write that fails (a full disk) never leaves a tag on no image.
   */
  async put(image: ImageRecord): Promise<ImageRecord> {
    const existing = this.images.get(image.id);
    const merged: ImageRecord = existing
      ? { ...image, repoTags: union(existing.repoTags, image.repoTags), repoDigests: union(existing.repoDigests, image.repoDigests) }
      : image;
    const losing = this.list().filter((other) => other.id !== image.id && other.repoTags.some((tag) => merged.repoTags.includes(tag)));
    await this.write(merged);
    for (const other of losing) await this.write({ ...other, repoTags: other.repoTags.filter((tag) => !merged.repoTags.includes(tag)) });
    return merged;
  }

  /** Takes one tag off an image, keeping the image. */
  async untag(image: ImageRecord, tag: string): Promise<void> {
    await this.write({ ...image, repoTags: image.repoTags.filter((held) => held !== tag) });
  }

  async delete(id: string): Promise<void> {
    await this.files.delete(digestHex(id));
    this.images.delete(id);
  }

  private async write(image: ImageRecord): Promise<void> {
    await this.files.write(image);
    this.images.set(image.id, image);
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}
