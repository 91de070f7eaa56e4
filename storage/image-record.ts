/** What podvisord keeps about one pulled image; its ID is the config digest. */
export interface ImageRecord {
  id: string;
  /** Normalised references, e.g. docker.io/library/busybox:latest. */
  repoTags: string[];
  /** repository@digest of the manifest (or index) the registry served. */
  repoDigests: string[];
  manifestDigest: string;
  layers: LayerRecord[];
  /** Bytes the image takes as pulled: config plus compressed layers. */
  size: number;
  /** The image config's User, as written (name, uid, uid:gid, name:group), or "". */
  user: string;
  pulledAt: string;
}

export interface LayerRecord {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export function isImageRecord(value: unknown): value is ImageRecord {
  const record = value as Partial<ImageRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.id === 'string' &&
    Array.isArray(record.repoTags) &&
    Array.isArray(record.repoDigests) &&
    Array.isArray(record.layers) &&
    typeof record.manifestDigest === 'string' &&
    typeof record.size === 'number' &&
    typeof record.user === 'string'
  );
}
