import { InvalidArgumentError, NotFoundError } from '../system/errors';
import { isId } from '../system/ids';

/**
 * The IDs of one kind of object (pods or containers), found by any unique prefix the way
 * crictl users type them.
 */
export class IdIndex {
  private readonly ids = new Set<string>();

  /** @param kind what the IDs name, for messages ("pod sandbox", "container"). */
  constructor(private readonly kind: string) {}

  add(id: string): void {
    if (!isId(id)) throw new InvalidArgumentError(`${this.kind} ID "${id}" is not 64 hex characters`);
    this.ids.add(id);
  }

  delete(id: string): void {
    this.ids.delete(id);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }

  /** The full ID that `prefix` stands for; NotFound if none, InvalidArgument if several. */
  resolve(prefix: string): string {
    if (this.ids.has(prefix)) return prefix;
    if (prefix === '') throw new InvalidArgumentError(`${this.kind} ID is empty`);
    const matches: string[] = [];
    for (const id of this.ids) {
      if (id.startsWith(prefix)) {
        matches.push(id);
        if (matches.length > 2) break;
      }
    }
    if (matches.length === 0) throw new NotFoundError(`${this.kind} "${prefix}" not found`);
    if (matches.length > 1) {
      const shown = matches.slice(0, 2).map((id) => id.slice(0, 12)).join(', ');
      throw new InvalidArgumentError(`${this.kind} ID prefix "${prefix}" is ambiguous: it matches ${shown}${matches.length > 2 ? ' and more' : ''}`);
    }
    return matches[0];
  }
}
