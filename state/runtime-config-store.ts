import { KeyedLock } from '../system/keyed-lock';
import type { Logger } from '../system/logger';
import { RecordFiles } from '../system/record-files';

/** What the kubelet last told the runtime through UpdateRuntimeConfig. */
export interface KeptRuntimeConfig {
  /** The node's pod CIDRs as the kubelet sent them (comma-separated when dual-stack); '' before any. */
  podCidr: string;
}

const STEM = 'runtime-config';

function isKeptRuntimeConfig(value: unknown): value is KeptRuntimeConfig {
  return typeof value === 'object' && value !== null && typeof (value as Partial<KeptRuntimeConfig>).podCidr === 'string';
}

/**
 * The runtime config kept under the root, so a restarted daemon still shows the pod CIDR: the
 * kubelet sends it again only when the node's changes, not when the runtime restarts.
 */
export class RuntimeConfigStore {
  private kept: KeptRuntimeConfig = { podCidr: '' };
  private readonly files: RecordFiles<KeptRuntimeConfig>;
  // Updates are written in the order they came, so the file always holds the last one.
  private readonly writes = new KeyedLock();

  constructor(dir: string, logger: Logger) {
    this.files = new RecordFiles(dir, isKeptRuntimeConfig, () => STEM, logger);
  }

  async load(): Promise<void> {
    const { records } = await this.files.readAll();
    this.kept = records[0] ?? this.kept;
  }

  get current(): KeptRuntimeConfig {
    return this.kept;
  }

  /** Persists `next`, then makes it current; resolves to the config it replaced. */
  update(next: KeptRuntimeConfig): Promise<KeptRuntimeConfig> {
    return this.writes.run(STEM, 'exclusive', async () => {
      await this.files.write(next);
      const previous = this.kept;
      this.kept = next;
      return previous;
    });
  }
}
