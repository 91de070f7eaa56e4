import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseImageReference } from '../storage/image-reference';
import { loadRegistriesConf, pullSources, type RegistriesConf } from '../storage/registries-conf';
import { FailedPreconditionError } from '../system/errors';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

describe('registries.conf', () => {
  let dir: string;
  let mainFile: string;
  let dropIns: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-regconf-'));
    mainFile = join(dir, 'registries.conf');
    dropIns = join(dir, 'registries.conf.d');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function load(main: string, dropInFiles: Record<string, string> = {}): Promise<RegistriesConf> {
    await writeFile(mainFile, main);
    await mkdir(dropIns, { recursive: true });
    for (const [name, text] of Object.entries(dropInFiles)) await writeFile(join(dropIns, name), text);
    return loadRegistriesConf(mainFile, dropIns);
  }

  const sources = (conf: RegistriesConf, image: string): string[] =>
    pullSources(conf, parseImageReference(image)).map((s) => `${s.insecure ? 'insecure ' : ''}${s.mirror ? 'mirror ' : ''}${s.host}/${s.repository}`);

  test('missing file and directory are an empty config: images come from their own registry, Docker Hub from its API host', async () => {
    const conf = await loadRegistriesConf(join(dir, 'none.conf'), join(dir, 'none.d'));
    expect(conf).toEqual({ unqualifiedSearchRegistries: [], registries: [] });
    expect(pullSources(conf, parseImageReference('busybox'))).toEqual([{ host: 'registry-1.docker.io', repository: 'library/busybox', insecure: false, mirror: false }]);
    expect(sources(conf, 'quay.io/org/app:1')).toEqual(['quay.io/org/app']);
  });

  test('mirrors come first, then the location; insecure is per endpoint', async () => {
    const conf = await load(`
unqualified-search-registries = ["docker.io", "quay.io"]
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror-a.internal:5000"
insecure = true
[[registry.mirror]]
location = "mirror-b.internal/hub"
`);
    expect(conf.unqualifiedSearchRegistries).toEqual(['docker.io', 'quay.io']);
    expect(sources(conf, 'busybox')).toEqual([
      'insecure mirror mirror-a.internal:5000/library/busybox',
      'mirror mirror-b.internal/hub/library/busybox',
      'registry-1.docker.io/library/busybox',
    ]);
  });

  test('the longest prefix wins, on whole path components, and its location replaces the prefix', async () => {
    const conf = await load(`
[[registry]]
location = "example.com"
insecure = true
[[registry]]
prefix = "example.com/foo"
location = "internal:5000/bar"
`);
    expect(sources(conf, 'example.com/foo/app:1')).toEqual(['internal:5000/bar/app']);
    expect(sources(conf, 'example.com/foo')).toEqual(['internal:5000/bar']);
    expect(sources(conf, 'example.com/foox/app')).toEqual(['insecure example.com/foox/app']);
    expect(sources(conf, 'example.com/other')).toEqual(['insecure example.com/other']);
    expect(sources(conf, 'example.community/app')).toEqual(['example.community/app']);
  });

  test('a Docker Hub namespace prefix matches only that namespace', async () => {
    const conf = await load(`
[[registry]]
prefix = "docker.io/library"
location = "hub-cache.internal/library"
`);
    expect(sources(conf, 'busybox')).toEqual(['hub-cache.internal/library/busybox']);
    expect(sources(conf, 'libraryx/app')).toEqual(['registry-1.docker.io/libraryx/app']);
  });

  test('mirror-by-digest-only and pull-from-mirror decide which mirrors serve tag and digest pulls', async () => {
    const conf = await load(`
[[registry]]
location = "a.example"
mirror-by-digest-only = true
[[registry.mirror]]
location = "a-mirror.example"

[[registry]]
location = "b.example"
[[registry.mirror]]
location = "b-digests.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "b-tags.example"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "b-all.example"
pull-from-mirror = "all"
`);
    expect(sources(conf, 'a.example/app:1')).toEqual(['a.example/app']);
    expect(sources(conf, `a.example/app@${DIGEST}`)).toEqual(['mirror a-mirror.example/app', 'a.example/app']);
    expect(sources(conf, 'b.example/app:1')).toEqual(['mirror b-tags.example/app', 'mirror b-all.example/app', 'b.example/app']);
    // A tag with a digest is a pull by digest.
    expect(sources(conf, `b.example/app:1@${DIGEST}`)).toEqual(['mirror b-digests.example/app', 'mirror b-all.example/app', 'b.example/app']);
  });

  test('a blocked registry refuses pulls, naming the file that blocked it', async () => {
    const conf = await load(`
[[registry]]
prefix = "evil.example"
location = "evil.example"
blocked = true
`);
    expect(() => pullSources(conf, parseImageReference('evil.example/app'))).toThrow(FailedPreconditionError);
    expect(() => pullSources(conf, parseImageReference('evil.example/app'))).toThrow(`registry evil.example is blocked in ${mainFile}`);
  });

  test('a wildcard prefix matches subdomains and keeps their own host', async () => {
    const conf = await load(`
[[registry]]
prefix = "*.corp.example"
insecure = true
[[registry.mirror]]
location = "cache.internal/corp"
`);
    expect(sources(conf, 'a.corp.example:5000/team/app')).toEqual(['mirror cache.internal/corp/team/app', 'insecure a.corp.example:5000/team/app']);
    expect(sources(conf, 'corp.example/app')).toEqual(['corp.example/app']);
  });

  test('drop-ins load in lexical order: the same prefix is replaced, other entries add up, the search list is overridden', async () => {
    const conf = await load(
      `
unqualified-search-registries = ["docker.io"]
[[registry]]
location = "a.example"
blocked = true
[[registry]]
location = "b.example"
insecure = true
`,
      {
        '20-late.conf': `
[[registry]]
location = "a.example"
[[registry.mirror]]
location = "a-mirror-late.example"
`,
        '10-early.conf': `
unqualified-search-registries = ["quay.io"]
[[registry]]
location = "a.example"
[[registry.mirror]]
location = "a-mirror-early.example"
[[registry]]
location = "c.example"
insecure = true
`,
        'ignored.txt': 'not = toml = at all',
      },
    );
    expect(conf.unqualifiedSearchRegistries).toEqual(['quay.io']);
    expect(sources(conf, 'a.example/app')).toEqual(['mirror a-mirror-late.example/app', 'a.example/app']);
    expect(sources(conf, 'b.example/app')).toEqual(['insecure b.example/app']);
    expect(sources(conf, 'c.example/app')).toEqual(['insecure c.example/app']);
  });

  test('keys other tools use are accepted', async () => {
    const conf = await load(`
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
`);
    expect(conf.registries).toEqual([]);
  });

  test.each([
    ['[[registry]]\nlocation = "a.example"\ninsecure = "yes"', 'registry[0].insecure: expected true or false, got "yes"'],
    ['[[registry]]\nlocation = "a.example"\nmirror-by-digest-ony = true', 'registry[0].mirror-by-digest-ony: unknown key'],
    ['[[registry]]\nprefix = "a.example"', 'registry[0].location: required unless the prefix is a "*.domain" wildcard'],
    ['[[registry]]\nlocation = "https://a.example"', 'registry[0].location: "https://a.example": give host[:port][/path], without a URL scheme'],
    ['[[registry]]\nlocation = "a.example"\npull-from-mirror = "all"', 'registry[0].pull-from-mirror: only a [[registry.mirror]] may set it'],
    [
      '[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "sometimes"',
      'registry[0].mirror[0].pull-from-mirror: expected one of all, digest-only, tag-only, got "sometimes"',
    ],
    [
      '[[registry]]\nlocation = "a.example"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "all"',
      'registry[0].mirror[0].pull-from-mirror: cannot be set when the registry sets mirror-by-digest-only',
    ],
    ['[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\ninsecure = true', 'registry[0].mirror[0].location: a mirror needs a location'],
    ['unqualified-search-registries = "docker.io"', 'unqualified-search-registries: expected an array of strings'],
    ['[registries.search]\nregistries = ["docker.io"]', 'registries: unknown key (version 1 of the format is not supported'],
  ])('a malformed file is refused naming the file and the key: %j', async (text, message) => {
    await expect(load(text)).rejects.toThrow(`${mainFile}: ${message}`);
  });

  test('invalid TOML in a drop-in names that file', async () => {
    const file = join(dropIns, '50-bad.conf');
    await expect(load('', { '50-bad.conf': '[[registry]\nlocation = ' })).rejects.toThrow(`${file} is not valid TOML`);
  });

  test('a location that leaves no repository path is refused when used', async () => {
    const conf = await load('[[registry]]\nprefix = "a.example/app"\nlocation = "internal:5000"\n');
    expect(sources(conf, 'a.example/app/sub')).toEqual(['internal:5000/sub']);
    expect(() => pullSources(conf, parseImageReference('a.example/app'))).toThrow('maps to "internal:5000", which names no repository');
  });
});
