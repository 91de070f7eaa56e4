import { AlreadyExistsError } from '../system/errors';

/**
 * Names reserved by pods and containers (k8s_POD_..., k8s_<ctr>_...). A name is held from the
 * start of a create until the object is removed, so two kubelet retries can never both win.
 */
export class NameRegistrar {
  private readonly holders = new Map<string, string>();

  /** Reserves `name` for `id`; reserving it again for the same ID is a no-op. */
  reserve(name: string, id: string): void {
    const holder = this.holders.get(name);
    if (holder !== undefined && holder !== id) {
      throw new AlreadyExistsError(`name "${name}" is reserved by ${holder}`);
    }
    this.holders.set(name, id);
  }

  /** Frees `name`; releasing a name that is not held does nothing. */
  release(name: string): void {
    this.holders.delete(name);
  }

  holder(name: string): string | undefined {
    return this.holders.get(name);
  }
}
