import { FailedPreconditionError, InternalError } from '../system/errors';
import { SHA256_DIGEST } from './digest-check';

// The two manifest families a registry may serve for an image (OCI, and Docker's schema 2
// that predates it), each with a single-platform manifest and a multi-platform index.

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const INDEX_TYPES: string[] = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerList];
const MANIFEST_TYPES: string[] = [MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest];
const CONFIG_TYPES: string[] = [MEDIA_TYPE.ociConfig, MEDIA_TYPE.dockerConfig];
const SCHEMA1_TYPES = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];

/** What we ask registries for; schema 1 is left out so that registries convert or refuse. */
export const MANIFEST_ACCEPT = [...INDEX_TYPES, ...MANIFEST_TYPES].join(', ');

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export type Manifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function parsePlatform(value: unknown): Platform | undefined {
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') return undefined;
  return { os: value.os, architecture: value.architecture, ...(typeof value.variant === 'string' ? { variant: value.variant } : {}) };
}

function parseDescriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) throw new InternalError(`${what}: a descriptor is not an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string') throw new InternalError(`${what}: a descriptor has no mediaType`);
  if (typeof digest !== 'string') throw new InternalError(`${what}: a descriptor has no digest`);
  if (!SHA256_DIGEST.test(digest)) throw new FailedPreconditionError(`${what}: unsupported digest "${digest}" (only sha256)`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new InternalError(`${what}: descriptor ${digest} has no valid size`);
  const platform = parsePlatform(value.platform);
  return {
    mediaType,
    digest,
    size,
    ...(platform ? { platform } : {}),
    ...(isStringRecord(value.annotations) ? { annotations: value.annotations } : {}),
  };
}

function descriptors(value: unknown, key: string, what: string): Descriptor[] {
  if (!Array.isArray(value)) throw new InternalError(`${what}: "${key}" is not a list`);
  return value.map((item) => parseDescriptor(item, what));
}

/** The media type a body declares, or its header's, or what its shape says (some OCI tools omit it). */
function mediaTypeOf(body: Json, contentType: string | undefined): string {
  if (typeof body.mediaType === 'string') return body.mediaType;
  const header = contentType?.split(';')[0].trim();
  if (header !== undefined && [...INDEX_TYPES, ...MANIFEST_TYPES, ...SCHEMA1_TYPES].includes(header)) return header;
  if (body.schemaVersion === 1) return SCHEMA1_TYPES[0];
  return Array.isArray(body.manifests) ? MEDIA_TYPE.ociIndex : MEDIA_TYPE.ociManifest;
}

/**
 * Parses and checks a manifest or index. `what` names it in errors ("manifest latest of
 * registry.example/app"). Docker schema 1 (deprecated, unverifiable layers) is refused.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): Manifest {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InternalError(`${what} is not valid JSON`);
  }
  if (!isObject(body)) throw new InternalError(`${what} is not a JSON object`);
  const mediaType = mediaTypeOf(body, contentType);
  if (SCHEMA1_TYPES.includes(mediaType) || body.schemaVersion === 1) {
    throw new FailedPreconditionError(`${what} uses Docker manifest schema 1, which is not supported; push the image again with a current client`);
  }
  if (body.schemaVersion !== 2) throw new InternalError(`${what}: unsupported schemaVersion ${JSON.stringify(body.schemaVersion)}`);
  if (INDEX_TYPES.includes(mediaType)) return { kind: 'index', mediaType, manifests: descriptors(body.manifests, 'manifests', what) };
  if (!MANIFEST_TYPES.includes(mediaType)) throw new FailedPreconditionError(`${what} has unsupported media type ${mediaType}`);
  const config = parseDescriptor(body.config, what);
  if (!CONFIG_TYPES.includes(config.mediaType)) {
    throw new FailedPreconditionError(`${what} is not a container image (config media type ${config.mediaType})`);
  }
  return { kind: 'image', mediaType, config, layers: descriptors(body.layers, 'layers', what) };
}

function platformName(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter((part) => part !== undefined).join('/');
}

/**
 * The index entry for `want`: same os and architecture, and the same variant when `want` names
 * one. The first match wins, as index order is the publisher's preference.
 */
export function choosePlatform(index: Descriptor[], want: Platform, what: string): Descriptor {
  const match = index.find(
    ({ platform, mediaType }) =>
      MANIFEST_TYPES.includes(mediaType) &&
      platform?.os === want.os &&
      platform.architecture === want.architecture &&
      (want.variant === undefined || platform.variant === want.variant),
  );
  if (match) return match;
  const available = index.flatMap(({ platform }) => (platform ? [platformName(platform)] : []));
  throw new FailedPreconditionError(`${what} has no image for ${platformName(want)}; available: ${available.length > 0 ? available.join(', ') : 'none'}`);
}

const NODE_TO_OCI_ARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** This host's platform in OCI terms: Node and OCI name some architectures differently. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: NODE_TO_OCI_ARCH[process.arch] ?? process.arch };
}
