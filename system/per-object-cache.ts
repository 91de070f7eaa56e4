/**
 * Memoizes `make` per key object, for values derived from records that are replaced, never
 * changed in place: a new record gets a new value, and a dropped one takes its value with it.
 * The values are shared between callers, who must not change them.
 */
export function cachedPerObject<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = make(key);
      cache.set(key, value);
    }
    return value;
  };
}

/**
 * cachedPerObject for work that may fail: a rejected promise is not kept, and the next caller
 * tries again. Callers asking while the work runs share it.
 */
export function cachedPerObjectUntilFailed<K extends object, V>(make: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const slotOf = cachedPerObject((_key: K): { value?: Promise<V> } => ({}));
  return (key) => {
    const slot = slotOf(key);
    if (slot.value === undefined) {
      const made = make(key);
      slot.value = made;
      made.catch(() => {
        if (slot.value === made) slot.value = undefined;
      });
    }
    return slot.value;
  };
}

/**
 * `parse` memoized per stored object, for records' stored configs: a change stores a new
 * object, so one object always parses to the same value (shared; callers must not change it).
 */
export function cachedParse<V>(parse: (stored: unknown) => V): (stored: unknown) => V {
  const parseObject = cachedPerObject((stored: object) => parse(stored));
  return (stored) => (typeof stored === 'object' && stored !== null ? parseObject(stored) : parse(stored));
}
