import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCniNetwork } from '../network/cni-config';

const bridge = (name: string): string =>
  JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge', bridge: 'cni0' }, { type: 'portmap', capabilities: { portMappings: true } }] });

describe('findCniNetwork', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-cni-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('an empty or missing directory is not ready, and says where it looked', async () => {
    expect(await findCniNetwork(dir, '')).toEqual({ ready: false, message: `no valid CNI network config in ${dir}` });
    const missing = await findCniNetwork(join(dir, 'nope'), '');
    expect(missing.ready).toBe(false);
  });

  test('the first valid config in lexical order wins; broken ones are skipped and reported', async () => {
    await writeFile(join(dir, '05-broken.conflist'), '{ not json');
    await writeFile(join(dir, '10-pods.conflist'), bridge('pods'));
    await writeFile(join(dir, '20-other.conflist'), bridge('other'));
    expect(await findCniNetwork(dir, '')).toMatchObject({ ready: true, network: { name: 'pods', file: join(dir, '10-pods.conflist') } });
  });

  test('a config without a name or plugin types is not valid, and the reason names the file', async () => {
    await writeFile(join(dir, '10-a.conflist'), JSON.stringify({ cniVersion: '1.0.0', plugins: [{ type: 'bridge' }] }));
    await writeFile(join(dir, '20-b.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'b', plugins: [{ bridge: 'x' }] }));
    await writeFile(join(dir, '30-c.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'c' }));
    await writeFile(join(dir, 'README.txt'), 'ignored: not a config extension');
    const result = await findCniNetwork(dir, '');
    expect(result.ready).toBe(false);
    if (result.ready) return;
    expect(result.message).toContain('10-a.conflist: no network name');
    expect(result.message).toContain('20-b.conflist: a plugin has no type');
    expect(result.message).toContain('30-c.conf: no plugin type');
  });

  test('the parsed config comes back, as written', async () => {
    await writeFile(join(dir, '10-pods.conflist'), bridge('pods'));
    const result = await findCniNetwork(dir, '');
    expect(result.ready && result.network.config).toEqual(JSON.parse(bridge('pods')));
  });

  test('a single-plugin .conf counts, and comes back as a list of that one plugin', async () => {
    const loopback = { cniVersion: '1.0.0', name: 'lo', type: 'loopback' };
    await writeFile(join(dir, '10-lo.conf'), JSON.stringify(loopback));
    const result = await findCniNetwork(dir, '');
    expect(result.ready && result.network.config).toEqual({ cniVersion: '1.0.0', name: 'lo', plugins: [loopback] });
  });

  test('a config without cniVersion is not valid', async () => {
    await writeFile(join(dir, '10-old.conflist'), JSON.stringify({ name: 'old', plugins: [{ type: 'bridge' }] }));
    expect(await findCniNetwork(dir, '')).toEqual({ ready: false, message: `no valid CNI network config in ${dir} (${join(dir, '10-old.conflist')}: no cniVersion)` });
  });

  test('a configured default network must exist by name', async () => {
    await writeFile(join(dir, '10-pods.conflist'), bridge('pods'));
    expect((await findCniNetwork(dir, 'pods')).ready).toBe(true);
    expect(await findCniNetwork(dir, 'backend')).toEqual({ ready: false, message: `no valid CNI config for network "backend" in ${dir}` });
  });
});
