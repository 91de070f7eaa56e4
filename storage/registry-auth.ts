import type { IncomingMessage } from 'node:http';
import { FailedPreconditionError, InternalError } from '../system/errors';
import type { Logger } from '../system/logger';
import { readBody, sendRequest, statusError } from './registry-http';

/** Credentials for one registry; the caller picks them for the registry they belong to. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** base64 of "user:password", as in a docker config.json. */
  auth?: string;
  /** A refresh token, exchanged at the token service for access tokens. */
  identityToken?: string;
  /** A bearer token sent to the registry as it is. */
  registryToken?: string;
}

/** Where a challenge came from and how to reach its token service. */
export interface ChallengeContext {
  host: string;
  /** "repository:NAME:pull" */
  scope: string;
  insecure: boolean;
  /** Whether our credentials belong to this registry; otherwise we go anonymous. */
  useCredentials: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

interface CachedAuthorization {
  header: string;
  expiresAt: number;
}

// The token specification's default lifetime when a token service does not say.
const DEFAULT_TOKEN_SECONDS = 60;
// Renew a little early so a token does not expire between our check and the registry's.
const EXPIRY_MARGIN_SECONDS = 5;
const TOKEN_RESPONSE_LIMIT = 1024 * 1024;
const CLIENT_ID = 'podvisor';

function basicHeader(credentials: RegistryCredentials | undefined): string | undefined {
  if (credentials?.auth !== undefined && credentials.auth !== '') return `Basic ${credentials.auth.trim()}`;
  if (credentials?.username === undefined || credentials.username === '') return undefined;
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`;
}

/** Reads `Scheme key="value", key2=value2`. Registries send one challenge per header. */
function parseChallenge(header: string | undefined, host: string): Challenge {
  const match = header === undefined ? null : /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (match === null) throw new InternalError(`registry ${host} asked for authentication without saying how (no WWW-Authenticate header)`);
  const params: Record<string, string> = {};
  for (const param of match[2].matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/g)) {
    params[param[1].toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : param[3];
  }
  return { scheme: match[1].toLowerCase(), params };
}

async function readToken(response: IncomingMessage, realm: string): Promise<{ token: string; seconds: number }> {
  let body: unknown;
  try {
    body = JSON.parse((await readBody(response, TOKEN_RESPONSE_LIMIT)).toString('utf8'));
  } catch {
    throw new InternalError(`token service ${realm} answered with something other than JSON`);
  }
  const { token, access_token: accessToken, expires_in: expiresIn } = (body ?? {}) as Record<string, unknown>;
  const value = typeof token === 'string' && token !== '' ? token : accessToken;
  if (typeof value !== 'string' || value === '') throw new InternalError(`token service ${realm} answered without a token`);
  return { token: value, seconds: typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_SECONDS };
}

/**
 * Answers registry challenges (Basic, or Bearer through a token service) and remembers the
 * result per registry and scope, so later requests skip the extra round trips.
 */
export class RegistryAuth {
  private readonly cache = new Map<string, CachedAuthorization>();

  constructor(
    private readonly logger: Logger,
    private readonly credentials: RegistryCredentials | undefined,
  ) {}

  get hasCredentials(): boolean {
    const c = this.credentials;
    return c !== undefined && [c.username, c.auth, c.identityToken, c.registryToken].some((value) => value !== undefined && value !== '');
  }

  /** The Authorization header to send unasked, from an earlier challenge's answer. */
  cached(host: string, scope: string): string | undefined {
    const entry = this.cache.get(`${host} ${scope}`) ?? this.cache.get(host);
    return entry !== undefined && entry.expiresAt > Date.now() ? entry.header : undefined;
  }

  /** The Authorization header that answers a 401's WWW-Authenticate challenge. */
  async answer(header: string | undefined, context: ChallengeContext): Promise<string> {
    const challenge = parseChallenge(header, context.host);
    const credentials = context.useCredentials ? this.credentials : undefined;
    if (challenge.scheme === 'basic') {
      const basic = basicHeader(credentials);
      if (basic === undefined) throw new FailedPreconditionError(`registry ${context.host} requires a username and password, and none were given`);
      // Basic covers every repository of the registry.
      this.cache.set(context.host, { header: basic, expiresAt: Infinity });
      return basic;
    }
    if (challenge.scheme !== 'bearer') throw new FailedPreconditionError(`registry ${context.host} asks for unsupported authentication scheme "${challenge.scheme}"`);
    const registryToken = credentials?.registryToken;
    const bearer =
      registryToken !== undefined && registryToken !== ''
        ? { header: `Bearer ${registryToken}`, expiresAt: Infinity }
        : await this.fetchToken(challenge.params, context, credentials);
    this.cache.set(`${context.host} ${context.scope}`, bearer);
    return bearer.header;
  }

  private async fetchToken(params: Record<string, string>, context: ChallengeContext, credentials: RegistryCredentials | undefined): Promise<CachedAuthorization> {
    let realm: URL;
    try {
      realm = new URL(params.realm ?? '');
    } catch {
      throw new InternalError(`registry ${context.host} named no usable token service (realm ${JSON.stringify(params.realm ?? '')})`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new InternalError(`registry ${context.host} named a token service that is not HTTP(S): ${realm.origin}`);
    const realmName = `${realm.origin}${realm.pathname}`;
    const identityToken = credentials?.identityToken;
    const basic = basicHeader(credentials);
    const grant = identityToken ? 'refresh_token' : basic ? 'basic' : 'anonymous';
    // Secrets over plain HTTP only where the operator has accepted that for the registry.
    if (grant !== 'anonymous' && realm.protocol === 'http:' && !context.insecure) {
      throw new FailedPreconditionError(`registry ${context.host} sends credentials to ${realmName} over plain HTTP; refusing (mark the registry insecure to allow it)`);
    }
    const form = new URLSearchParams({ scope: context.scope, ...(params.service !== undefined ? { service: params.service } : {}) });
    let response: IncomingMessage;
    const common = { verifyTls: !context.insecure, timeoutMs: context.timeoutMs, signal: context.signal };
    if (identityToken) {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', identityToken);
      form.set('client_id', CLIENT_ID);
      response = await sendRequest(realm, { ...common, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    } else {
      for (const [key, value] of form) realm.searchParams.set(key, value);
      response = await sendRequest(realm, { ...common, headers: basic ? { authorization: basic } : {} });
    }
    if (response.statusCode === 401 || response.statusCode === 403) {
      response.resume();
      const who = grant === 'anonymous' ? 'anonymous access' : 'the given credentials';
      throw new FailedPreconditionError(`token service ${realmName} for registry ${context.host} refused ${who} (HTTP ${response.statusCode})`);
    }
    if (response.statusCode !== 200) throw await statusError(response, `token service ${realmName} for registry ${context.host}`);
    const { token, seconds } = await readToken(response, realmName);
    this.logger.debug('registry token obtained', { host: context.host, scope: context.scope, grant, lifetime_s: seconds });
    return { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(seconds - EXPIRY_MARGIN_SECONDS, 0) * 1000 };
  }
}
