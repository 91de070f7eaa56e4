// Mutates a valid CRI request field by field, from a seeded generator so a run can be replayed:
// huge strings, invalid UTF-8, '..' and absolute paths, NULs and other control characters,
// extreme integers, big maps and lists, missing parts. Requests are the plain objects the
// generated types describe; what the mutations make of them need not fit those types, since
// the encoder writes what it knows and the test skips what it cannot encode.

/** A generator of numbers in [0, 1), the same sequence for the same seed (xorshift32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

type Key = string | number;

export interface FuzzedRequest {
  request: unknown;
  /** What was changed, one "path = value" each, for the report of a wrong answer. */
  changes: string[];
  /** ASCII markers in string fields to overwrite with bytes that are not UTF-8 once encoded. */
  invalidUtf8Markers: string[];
}

export interface FuzzerOptions {
  /** A path '..' components climb to from anywhere: nothing may ever be made there. */
  escapeTarget: string;
  /** An absolute path a request may use (a host path the kubelet could give). */
  allowedPath: string;
}

const HUGE_STRING_BYTES = 200 * 1024;
const LONG_STRING_CHARS = 5000;
const BIG_MAP_ENTRIES = 160;
const BIG_MAP_VALUE_BYTES = 4096;
const BIG_LIST_ENTRIES = 20_000;
// Far more than any path's depth here: '..' from anywhere reaches the root.
const CLIMB = '../'.repeat(24);

const EXTREME_INTEGERS = [0, -1, 1, 2, 999, 1000, 65_535, 65_536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1];
const EXTREME_BIGINTS = [0n, -1n, 1n, 2n, 999n, 1000n, 262_145n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** A small value like `value`: a long list of it stays a few hundred KiB however big `value` got. */
function tiny(value: unknown): unknown {
  if (typeof value === 'string') return value.slice(0, 8);
  if (value instanceof Uint8Array) return Buffer.from(value.subarray(0, 8));
  if (Array.isArray(value)) return [];
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, tiny(entry)]));
  return value;
}

function clone(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(clone);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, clone(entry)]));
  return value;
}

/** Every path in the request down to its leaves, containers included, added to `found`. */
function paths(value: unknown, prefix: Key[] = [], found: Key[][] = []): Key[][] {
  if (prefix.length > 0) found.push(prefix);
  if (Array.isArray(value)) value.forEach((entry, index) => paths(entry, [...prefix, index], found));
  else if (isRecord(value)) for (const [key, entry] of Object.entries(value)) paths(entry, [...prefix, key], found);
  return found;
}

function parentOf(root: unknown, path: Key[]): Record<Key, unknown> {
  let node = root;
  for (const key of path.slice(0, -1)) node = (node as Record<Key, unknown>)[key];
  return node as Record<Key, unknown>;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}… (${value.length} chars)` : JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `bytes(${value.length}${value.includes(0) ? ', with NUL' : ''})`;
  if (Array.isArray(value)) return `[${value.length} entries]`;
  if (isRecord(value)) return `{${Object.keys(value).length} keys}`;
  return String(value);
}

export class RequestFuzzer {
  private markers = 0;

  constructor(
    private readonly random: () => number,
    private readonly options: FuzzerOptions,
  ) {}

  private pick<T>(choices: readonly T[]): T {
    return choices[Math.floor(this.random() * choices.length)];
  }

  private marker(): string {
    this.markers += 1;
    return `INVALIDUTF8MARK${this.markers.toString().padStart(6, '0')}`;
  }

  /** A hostile string, and the invalid UTF-8 marker in it if it has one. */
  private hostileString(current: string): { value: string; marker?: string } {
    const choices: Array<() => { value: string; marker?: string }> = [
      () => ({ value: '' }),
      () => ({ value: 'A'.repeat(HUGE_STRING_BYTES) }),
      () => ({ value: 'l'.repeat(LONG_STRING_CHARS) }),
      () => ({ value: `${current}\0x` }),
      () => ({ value: `${CLIMB}${this.options.escapeTarget.replace(/^\//, '')}/f` }),
      () => ({ value: `${current}/../../..` }),
      () => ({ value: `${this.options.allowedPath}/${current || 'x'}` }),
      () => {
        const marker = this.marker();
        return { value: `${current}${marker}`, marker };
      },
      () => ({ value: `${current}/;=\n\t ` }),
      () => ({ value: 'ünïcødé-€-😀-\uFFFD' }),
      () => ({ value: '\u0001\u001f\u007f' }),
      () => ({ value: '.' }),
      () => ({ value: '..' }),
      () => ({ value: '/' }),
      () => ({ value: 'x'.repeat(255) }),
    ];
    return this.pick(choices)();
  }

  private bigMap(): Record<string, string> {
    return Object.fromEntries(Array.from({ length: BIG_MAP_ENTRIES }, (_, index) => [`key-${index}`, 'v'.repeat(BIG_MAP_VALUE_BYTES)]));
  }

  /** Changes the value at `path` in place; returns what it became and any invalid UTF-8 marker. */
  private mutateAt(root: unknown, path: Key[]): { value: unknown; marker?: string } {
    const parent = parentOf(root, path);
    const key = path[path.length - 1];
    const current = parent[key];
    let value: unknown;
    let marker: string | undefined;
    if (typeof current === 'string') ({ value, marker } = this.hostileString(current));
    else if (typeof current === 'number') value = this.pick(EXTREME_INTEGERS);
    else if (typeof current === 'bigint') value = this.pick(EXTREME_BIGINTS);
    else if (typeof current === 'boolean') value = !current;
    else if (current instanceof Uint8Array) value = this.pick([Buffer.from('a\0b'), Buffer.alloc(HUGE_STRING_BYTES, 0x61), Buffer.from([0xff, 0xfe]), Buffer.alloc(0)]);
    else if (Array.isArray(current)) {
      value = this.pick([
        () => [],
        () => Array.from({ length: BIG_LIST_ENTRIES }, () => tiny(current[0] ?? '')),
        () => [...current, ...current.map(clone)],
      ])();
    } else if (isRecord(current)) {
      value = this.pick([
        () => undefined,
        () => ({}),
        () => ({ ...current, ...this.bigMap() }),
        () => {
          const hostile = this.hostileString('key');
          marker = hostile.marker;
          return { ...current, [hostile.value]: 'value' };
        },
      ])();
    } else {
      value = undefined;
    }
    parent[key] = value;
    return { value, marker };
  }

  /**
   * A copy of `base` with one to three of its fields (at any depth) changed; the `kept` fields
   * ("image.image") and what holds them stay as they are.
   */
  mutate(base: unknown, kept: string[] = []): FuzzedRequest {
    const request = clone(base);
    const changes: string[] = [];
    const invalidUtf8Markers: string[] = [];
    const count = 1 + Math.floor(this.random() * 3);
    const touchesKept = (path: string): boolean => kept.some((field) => `${field}.`.startsWith(`${path}.`) || path.startsWith(`${field}.`));
    for (let i = 0; i < count; i++) {
      const candidates = paths(request).filter((path) => !touchesKept(path.join('.')));
      if (candidates.length === 0) break;
      const path = this.pick(candidates);
      const { value, marker } = this.mutateAt(request, path);
      changes.push(`${path.join('.')} = ${marker === undefined ? describe(value) : `${describe(value)} (not UTF-8)`}`);
      if (marker !== undefined) invalidUtf8Markers.push(marker);
    }
    return { request, changes, invalidUtf8Markers };
  }
}
