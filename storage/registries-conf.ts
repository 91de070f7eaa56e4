import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { FailedPreconditionError, errorMessage } from '../system/errors';
import { repositoryOf, type ImageReference } from './image-reference';

// The containers-registries.conf(5) format, version 2: the file CRI-O, podman and skopeo read,
// so one node config serves them all.

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';
const PULL_FROM_MIRROR: readonly PullFromMirror[] = ['all', 'digest-only', 'tag-only'];

export interface MirrorConf {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

export interface RegistryConf {
  /** What references this entry applies to: host[:port][/path], or "*.domain" for subdomains. */
  prefix: string;
  /** What replaces the matched prefix; "" keeps the reference's own (wildcard prefixes only). */
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: MirrorConf[];
  /** The file that defined this entry, for messages. */
  file: string;
}

export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  /** At most one entry per prefix. */
  registries: RegistryConf[];
}

export interface PullSource {
  /** host[:port] to send registry API requests to. */
  host: string;
  /** The repository's path at that host. */
  repository: string;
  insecure: boolean;
  mirror: boolean;
}

// Docker Hub's images are named docker.io/..., but its registry API answers elsewhere.
const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

// Keys of the format that other tools act on and we have no use for; accepted so that a node's
// shared files load.
const IGNORED_TOP_KEYS = ['short-name-mode', 'credential-helpers', 'aliases', 'additional-layer-store-auth-helper'];
const TOP_KEYS = ['unqualified-search-registries', 'registry', ...IGNORED_TOP_KEYS];
const REGISTRY_KEYS = ['prefix', 'location', 'insecure', 'blocked', 'mirror-by-digest-only', 'mirror'];
const MIRROR_KEYS = ['location', 'insecure', 'pull-from-mirror'];

type Table = Record<string, unknown>;

interface FileConf {
  unqualifiedSearchRegistries: string[] | undefined;
  registries: RegistryConf[];
}

class ConfError extends FailedPreconditionError {
  constructor(file: string, key: string, problem: string) {
    super(`${file}: ${key}: ${problem}`);
  }
}

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads one TOML file; undefined when it does not exist. */
async function readTable(file: string): Promise<Table | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FailedPreconditionError(`cannot read ${file}: ${errorMessage(error)}`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new FailedPreconditionError(`${file} is not valid TOML: ${errorMessage(error)}`);
  }
}

/** Typed access to one table's keys, with errors that name the file and the key's path. */
class Fields {
  constructor(
    private readonly file: string,
    private readonly path: string,
    private readonly table: Table,
    known: readonly string[],
  ) {
    for (const key of Object.keys(table)) {
      if (known.includes(key)) continue;
      if (key === 'registries' && path === '') throw this.error(key, 'unknown key (version 1 of the format is not supported; use [[registry]] tables)');
      if (key === 'pull-from-mirror') throw this.error(key, 'only a [[registry.mirror]] may set it');
      throw this.error(key, 'unknown key');
    }
  }

  error(key: string, problem: string): ConfError {
    return new ConfError(this.file, this.path === '' ? key : `${this.path}.${key}`, problem);
  }

  string(key: string): string | undefined {
    const value = this.table[key];
    if (value === undefined || typeof value === 'string') return value;
    throw this.error(key, `expected a string, got ${JSON.stringify(value)}`);
  }

  boolean(key: string): boolean {
    const value = this.table[key];
    if (value === undefined || typeof value === 'boolean') return value ?? false;
    throw this.error(key, `expected true or false, got ${JSON.stringify(value)}`);
  }

  strings(key: string): string[] | undefined {
    const value = this.table[key];
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
    throw this.error(key, 'expected an array of strings');
  }

  tables(key: string): Table[] {
    const value = this.table[key];
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every(isTable)) return value;
    throw this.error(key, 'expected an array of tables (written [[...]])');
  }

  /** A registry or mirror location: host[:port][/path], without a URL scheme. */
  location(key: string): string {
    const value = (this.string(key) ?? '').replace(/\/+$/, '');
    if (/^[a-z]+:\/\//i.test(value)) throw this.error(key, `"${value}": give host[:port][/path], without a URL scheme`);
    if (/\s/.test(value)) throw this.error(key, `"${value}" contains whitespace`);
    return value;
  }
}

function isPullFromMirror(value: string): value is PullFromMirror {
  return PULL_FROM_MIRROR.some((mode) => mode === value);
}

function parseMirror(file: string, path: string, table: Table, mirrorByDigestOnly: boolean): MirrorConf {
  const fields = new Fields(file, path, table, MIRROR_KEYS);
  const location = fields.location('location');
  if (location === '') throw fields.error('location', 'a mirror needs a location');
  const pull = fields.string('pull-from-mirror');
  if (pull !== undefined && !isPullFromMirror(pull)) {
    throw fields.error('pull-from-mirror', `expected one of ${PULL_FROM_MIRROR.join(', ')}, got "${pull}"`);
  }
  // Two ways of saying when mirrors apply would contradict each other.
  if (pull !== undefined && mirrorByDigestOnly) throw fields.error('pull-from-mirror', 'cannot be set when the registry sets mirror-by-digest-only');
  return { location, insecure: fields.boolean('insecure'), pullFromMirror: pull ?? 'all' };
}

function parseRegistry(file: string, path: string, table: Table): RegistryConf {
  const fields = new Fields(file, path, table, REGISTRY_KEYS);
  const location = fields.location('location');
  const prefix = fields.location('prefix') || location;
  const wildcard = prefix.startsWith('*.');
  if (wildcard && prefix.includes('/')) throw fields.error('prefix', 'a "*.domain" wildcard names domains only, not paths');
  if (!wildcard && location === '') throw fields.error('location', 'required unless the prefix is a "*.domain" wildcard');
  const mirrorByDigestOnly = fields.boolean('mirror-by-digest-only');
  return {
    prefix,
    location,
    insecure: fields.boolean('insecure'),
    blocked: fields.boolean('blocked'),
    mirrorByDigestOnly,
    mirrors: fields.tables('mirror').map((mirror, index) => parseMirror(file, `${path}.mirror[${index}]`, mirror, mirrorByDigestOnly)),
    file,
  };
}

function parseFile(file: string, table: Table): FileConf {
  const fields = new Fields(file, '', table, TOP_KEYS);
  return {
    unqualifiedSearchRegistries: fields.strings('unqualified-search-registries'),
    registries: fields.tables('registry').map((registry, index) => parseRegistry(file, `registry[${index}]`, registry)),
  };
}

async function dropInFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((entry) => entry.endsWith('.conf')).sort().map((entry) => join(dir, entry));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FailedPreconditionError(`cannot read ${dir}: ${errorMessage(error)}`);
  }
}

/**
 * Reads the main file, then each *.conf drop-in in lexical order. A later file's registry with
 * the same prefix replaces the earlier one, and a later search list replaces the earlier list.
 * Missing files and directories contribute nothing.
 */
export async function loadRegistriesConf(file: string, dropInDir: string): Promise<RegistriesConf> {
  let search: string[] = [];
  const byPrefix = new Map<string, RegistryConf>();
  for (const path of [file, ...(await dropInFiles(dropInDir))]) {
    const table = await readTable(path);
    if (table === undefined) continue;
    const conf = parseFile(path, table);
    search = conf.unqualifiedSearchRegistries ?? search;
    // Within one file the first entry for a prefix wins, as in the other tools reading it.
    const fromThisFile = new Set<string>();
    for (const registry of conf.registries) {
      if (fromThisFile.has(registry.prefix)) continue;
      fromThisFile.add(registry.prefix);
      byPrefix.set(registry.prefix, registry);
    }
  }
  return { unqualifiedSearchRegistries: search, registries: [...byPrefix.values()] };
}

/** The part of `repository` a prefix matched, or undefined; matches end on a path component. */
function matchedPrefix(prefix: string, repository: string, domain: string): string | undefined {
  if (prefix.startsWith('*.')) {
    const host = domain.replace(/:\d+$/, '');
    return host.endsWith(prefix.slice(1)) ? domain : undefined;
  }
  return repository === prefix || repository.startsWith(`${prefix}/`) ? prefix : undefined;
}

function findRegistry(conf: RegistriesConf, ref: ImageReference): { registry: RegistryConf; matched: string } | undefined {
  const repository = repositoryOf(ref);
  let best: { registry: RegistryConf; matched: string } | undefined;
  for (const registry of conf.registries) {
    const matched = matchedPrefix(registry.prefix, repository, ref.domain);
    if (matched !== undefined && (best === undefined || registry.prefix.length > best.registry.prefix.length)) best = { registry, matched };
  }
  return best;
}

function mirrorApplies(mirror: MirrorConf, registry: RegistryConf, byDigest: boolean): boolean {
  if (registry.mirrorByDigestOnly) return byDigest;
  if (mirror.pullFromMirror === 'all') return true;
  return (mirror.pullFromMirror === 'digest-only') === byDigest;
}

function apiHost(host: string): string {
  return host === DOCKER_HUB ? DOCKER_HUB_API_HOST : host;
}

/** The source at `location` with the rest of the repository after the matched prefix. */
function sourceAt(location: string, rest: string, insecure: boolean, mirror: boolean, registry: RegistryConf): PullSource {
  const full = location + rest;
  const slash = full.indexOf('/');
  if (slash < 0) throw new FailedPreconditionError(`${registry.file}: registry "${registry.prefix}" maps to "${full}", which names no repository`);
  return { host: apiHost(full.slice(0, slash)), repository: full.slice(slash + 1), insecure, mirror };
}

/**
 * Where to pull `ref` from, in order: the matching registry's mirrors that apply to a pull by
 * tag or by digest, then its location. Without a matching entry, the reference's own registry
 * over verified HTTPS.
 */
export function pullSources(conf: RegistriesConf, ref: ImageReference): PullSource[] {
  const found = findRegistry(conf, ref);
  if (found === undefined) return [{ host: apiHost(ref.domain), repository: ref.path, insecure: false, mirror: false }];
  const { registry, matched } = found;
  if (registry.blocked) throw new FailedPreconditionError(`registry ${registry.prefix} is blocked in ${registry.file}`);
  const rest = repositoryOf(ref).slice(matched.length);
  const byDigest = ref.digest !== undefined;
  const mirrors = registry.mirrors
    .filter((mirror) => mirrorApplies(mirror, registry, byDigest))
    .map((mirror) => sourceAt(mirror.location, rest, mirror.insecure, true, registry));
  return [...mirrors, sourceAt(registry.location || matched, rest, registry.insecure, false, registry)];
}
