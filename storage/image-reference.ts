import { InvalidArgumentError } from '../system/errors';
import { SHA256_DIGEST } from './digest-check';

export interface ImageReference {
  domain: string;
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}

const DOCKER_HUB = 'docker.io';
// Old spelling of Docker Hub that docker and containerd still accept and fold into docker.io.
const DOCKER_HUB_LEGACY = 'index.docker.io';
const DEFAULT_TAG = 'latest';
const MAX_NAME_LENGTH = 255;

const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
// A bare 64-hex string is an image ID, which is looked up locally, never pulled by name.
const IMAGE_ID = /^[a-f0-9]{64}$/;

function invalid(input: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid image reference "${input}": ${why}`);
}

/** The digest part after "@", which must be a sha256 digest: the only algorithm we verify. */
function parseDigest(input: string, digest: string): string {
  if (SHA256_DIGEST.test(digest)) return digest;
  if (!DIGEST.test(digest)) throw invalid(input, `malformed digest "${digest}"`);
  if (!digest.startsWith('sha256:')) throw invalid(input, `unsupported digest algorithm "${digest.split(':')[0]}" (only sha256)`);
  throw invalid(input, `a sha256 digest is 64 lowercase hex characters, got "${digest}"`);
}

/** Splits "name[:tag]" where a ":" before the last "/" belongs to a registry port. */
function splitTag(nameAndTag: string): { name: string; tag: string | undefined } {
  const colon = nameAndTag.lastIndexOf(':');
  if (colon < 0 || colon < nameAndTag.lastIndexOf('/')) return { name: nameAndTag, tag: undefined };
  return { name: nameAndTag.slice(0, colon), tag: nameAndTag.slice(colon + 1) };
}

/** The registry part of a name: present only when the first component looks like a host. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { domain: first, path: name.slice(slash + 1) };
  }
  return { domain: DOCKER_HUB, path: name };
}

/**
 * Normalises the way the kubelet and containerd do: "busybox" -> docker.io/library/busybox:latest;
 * "user/app" -> docker.io/user/app:latest; a digest alone gets no tag, a tag and digest are both
 * kept. The first component is the registry when it contains "." or ":" or is "localhost".
 */
export function parseImageReference(input: string): ImageReference {
  if (input === '') throw invalid(input, 'empty');
  if (IMAGE_ID.test(input)) throw invalid(input, 'a 64-character hex string is an image ID, not a name');
  const at = input.indexOf('@');
  const digest = at < 0 ? undefined : parseDigest(input, input.slice(at + 1));
  const { name, tag } = splitTag(at < 0 ? input : input.slice(0, at));
  if (tag !== undefined && !TAG.test(tag)) throw invalid(input, `invalid tag "${tag}"`);
  if (name.length > MAX_NAME_LENGTH) throw invalid(input, `repository name longer than ${MAX_NAME_LENGTH} characters`);

  const split = splitDomain(name);
  if (!DOMAIN.test(split.domain)) throw invalid(input, `invalid registry host "${split.domain}"`);
  const domain = split.domain === DOCKER_HUB_LEGACY ? DOCKER_HUB : split.domain;
  const path = domain === DOCKER_HUB && !split.path.includes('/') ? `library/${split.path}` : split.path;
  for (const component of path.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (component !== component.toLowerCase()) throw invalid(input, 'repository names must be lowercase');
    throw invalid(input, component === '' ? 'empty path component' : `invalid path component "${component}"`);
  }
  return { domain, path, tag: tag ?? (digest === undefined ? DEFAULT_TAG : undefined), digest };
}

/** "docker.io/library/busybox": the name without tag or digest. */
export function repositoryOf(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The fully qualified reference: repository, then ":tag" and/or "@digest" as present. */
export function referenceString(ref: ImageReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${repositoryOf(ref)}${tag}${digest}`;
}
