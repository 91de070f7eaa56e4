import { KeyedLock } from '../system/keyed-lock';

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('KeyedLock', () => {
  test('shared holders run together; an exclusive one waits for them and holds back later shared ones', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const first = gate();
    const readers = [lock.run('k', 'shared', async () => { order.push('r1 in'); await first.opened; order.push('r1 out'); }), lock.run('k', 'shared', async () => { order.push('r2 in'); })];
    const writer = lock.run('k', 'exclusive', async () => { order.push('w'); });
    const late = lock.run('k', 'shared', async () => { order.push('r3'); });
    await Promise.resolve();
    expect(order).toEqual(['r1 in', 'r2 in']);
    first.open();
    await Promise.all([...readers, writer, late]);
    expect(order).toEqual(['r1 in', 'r2 in', 'r1 out', 'w', 'r3']);
    expect(lock.busy('k')).toBe(false);
  });

  test('different keys never wait for each other, and a failing holder releases its key', async () => {
    const lock = new KeyedLock();
    const held = gate();
    const a = lock.run('a', 'exclusive', () => held.opened);
    expect(await lock.run('b', 'exclusive', async () => 'b ran')).toBe('b ran');
    held.open();
    await a;
    await expect(lock.run('a', 'exclusive', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await lock.run('a', 'exclusive', async () => 'a again')).toBe('a again');
  });
});
