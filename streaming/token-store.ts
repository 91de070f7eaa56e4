// Single-use tokens naming pending stream requests. A URL is worth one connection within a
// minute of being issued; the oldest are dropped when too many are waiting, so callers that
// never connect cannot grow memory.
import { randomBytes } from 'node:crypto';

export const TOKEN_TTL_MS = 60_000;
export const MAX_PENDING_TOKENS = 1000;

interface Entry<T> {
  value: T;
  expires: number;
}

export class TokenStore<T> {
  // Map iteration order is insertion order: the first key is always the oldest.
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs = TOKEN_TTL_MS,
    private readonly capacity = MAX_PENDING_TOKENS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(value: T): string {
    this.sweep();
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    const token = randomBytes(24).toString('base64url');
    this.entries.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request behind a token, once: a used, expired or unknown token answers undefined. */
  take(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.value : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) {
      if (entry.expires > now) break;
      this.entries.delete(token);
    }
  }
}
