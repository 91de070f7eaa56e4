import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ObjectStore } from '../state/object-store';
import { newId } from '../system/ids';
import type { StoredObject } from '../state/object-store';
import { AlreadyExistsError, NotFoundError } from '../system/errors';
import { createLogger } from '../system/logger';

interface Pod extends StoredObject {
  createdAt: string;
}

function isPod(value: unknown): value is Pod {
  const pod = value as Partial<Pod>;
  return typeof pod?.id === 'string' && typeof pod.name === 'string' && typeof pod.createdAt === 'string';
}

describe('ObjectStore', () => {
  let dir: string;
  const logger = createLogger('error', 'text', new PassThrough());
  const store = (): ObjectStore<Pod> => new ObjectStore('pod sandbox', dir, isPod, logger);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-store-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('records survive a restart with their names reserved and nanosecond times exact', async () => {
    const first = store();
    await first.load();
    const pod = { id: newId(), name: 'k8s_POD_web_default_u1_0', createdAt: '1795000000123456789' };
    await first.save(pod);

    const second = store();
    await second.load();
    expect(second.get(pod.id.slice(0, 6))).toEqual(pod);
    expect(() => second.names.reserve(pod.name, newId())).toThrow(AlreadyExistsError);
  });

  test('a removed record is gone from disk, index and names; removing again succeeds', async () => {
    const s = store();
    await s.load();
    const pod = { id: newId(), name: 'p', createdAt: '1' };
    await s.save(pod);
    await s.remove(pod.id);
    await s.remove(pod.id);
    expect(() => s.get(pod.id)).toThrow(NotFoundError);
    expect(s.names.holder('p')).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  test('a name held by another record refuses the save and writes nothing', async () => {
    const s = store();
    await s.load();
    await s.save({ id: newId(), name: 'same', createdAt: '1' });
    await expect(s.save({ id: newId(), name: 'same', createdAt: '2' })).rejects.toThrow(AlreadyExistsError);
    expect(await readdir(dir)).toHaveLength(1);
    expect(s.size).toBe(1);
  });

  test('leftovers of an interrupted write are removed and corrupt records set aside, not loaded, their IDs kept', async () => {
    const good = { id: newId(), name: 'good', createdAt: '1' };
    const corruptId = newId();
    await writeFile(join(dir, `${good.id}.json`), JSON.stringify(good));
    await writeFile(join(dir, `.tmp-${newId()}.json.abcdef`), '{"id": "half');
    await writeFile(join(dir, `${corruptId}.json`), '{"id": "trunc');
    // Not a record's name: set aside too, but no ID anything could be undone by.
    await writeFile(join(dir, '..json'), 'not json');
    const s = store();
    await s.load();
    expect(s.list()).toEqual([good]);
    expect(s.damaged).toEqual([corruptId]);
    expect((await readdir(dir)).sort()).toEqual([`${corruptId}.json.corrupt`, `${good.id}.json`, '..json.corrupt'].sort());
  });
});
