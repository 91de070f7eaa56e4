import type { IncomingMessage } from 'node:http';
import { FailedPreconditionError, InternalError } from '../system/errors';
import type { Logger } from '../system/logger';
import type { RegistryAuth } from './registry-auth';
import { ConnectionError, sendRequest, statusError } from './registry-http';
import type { PullSource } from './registries-conf';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const USER_AGENT = 'podvisor';

type Scheme = 'https:' | 'http:';

export interface GetOptions {
  accept?: string;
  signal?: AbortSignal;
}

/**
 * GET requests to one registry source: over HTTPS, or for an insecure source whatever the
 * server speaks; answering authentication challenges; following redirects without carrying
 * our Authorization header to another server.
 */
export class RegistryTransport {
  // For insecure hosts: which scheme answered, so later requests skip the failed TLS attempt.
  private readonly schemes = new Map<string, Scheme>();

  constructor(
    private readonly logger: Logger,
    private readonly auth: RegistryAuth,
    private readonly timeoutMs: number,
  ) {}

  /**
   * GETs `path` (from /v2/) and answers with the final response, whatever its status, except
   * that a refusal of access (401/403 after answering the challenge) throws.
   */
  async get(source: PullSource, path: string, options: GetOptions): Promise<IncomingMessage> {
    const scope = `repository:${source.repository}:pull`;
    // The caller's credentials are for the registry the image names, never for a mirror's operator.
    const useCredentials = !source.mirror && this.auth.hasCredentials;
    let authorization = this.auth.cached(source.host, scope);
    let response = await this.follow(source, path, options, authorization);
    if (response.statusCode === 401) {
      response.resume();
      const context = { host: source.host, scope, insecure: source.insecure, useCredentials, timeoutMs: this.timeoutMs, signal: options.signal };
      authorization = await this.auth.answer(response.headers['www-authenticate'], context);
      response = await this.follow(source, path, options, authorization);
    }
    if (response.statusCode === 401 || response.statusCode === 403) {
      const how = useCredentials ? 'with the given credentials' : 'without credentials';
      const refusal = await statusError(response, `registry ${source.host} denied pulling ${source.repository} ${how}`);
      throw new FailedPreconditionError(refusal.message);
    }
    return response;
  }

  private async follow(source: PullSource, path: string, options: GetOptions, authorization: string | undefined): Promise<IncomingMessage> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...(options.accept ? { accept: options.accept } : {}) };
    if (authorization !== undefined) headers.authorization = authorization;
    let { response, url } = await this.sendToRegistry(source, path, headers, options.signal);
    const origin = url.origin;
    for (let hops = 0; REDIRECT_STATUSES.has(response.statusCode ?? 0); hops++) {
      response.resume();
      const location = response.headers.location;
      if (hops === MAX_REDIRECTS || location === undefined) {
        throw new InternalError(`registry ${source.host} redirected ${location === undefined ? 'without a Location' : `more than ${MAX_REDIRECTS} times`}`);
      }
      url = new URL(location, url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InternalError(`registry ${source.host} redirected to a non-HTTP URL`);
      // Blob stores sign their URLs themselves; our registry credentials are not theirs to see.
      if (url.origin !== origin) delete headers.authorization;
      // Only the host: the query of a signed URL is itself a credential.
      this.logger.debug('following registry redirect', { host: source.host, to: url.host });
      response = await sendRequest(url, { headers, verifyTls: !source.insecure, timeoutMs: this.timeoutMs, signal: options.signal });
    }
    return response;
  }

  private async sendToRegistry(
    source: PullSource,
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<{ response: IncomingMessage; url: URL }> {
    const send = async (scheme: Scheme): Promise<{ response: IncomingMessage; url: URL }> => {
      const url = new URL(`${scheme}//${source.host}${path}`);
      return { response: await sendRequest(url, { headers, verifyTls: !source.insecure, timeoutMs: this.timeoutMs, signal }), url };
    };
    if (!source.insecure) {
      try {
        return await send('https:');
      } catch (error) {
        if (!(error instanceof ConnectionError) || error.stage !== 'tls') throw error;
        throw new ConnectionError(`${error.message} (to skip verification, or to use plain HTTP, mark ${source.host} insecure in registries.conf)`, 'tls');
      }
    }
    const known = this.schemes.get(source.host);
    if (known !== undefined) return send(known);
    let answer: { response: IncomingMessage; url: URL };
    try {
      answer = await send('https:');
    } catch (error) {
      if (!(error instanceof ConnectionError) || error.stage !== 'tls') throw error;
      answer = await send('http:');
      this.logger.info('insecure registry speaks plain HTTP', { host: source.host });
    }
    this.schemes.set(source.host, answer.url.protocol === 'http:' ? 'http:' : 'https:');
    return answer;
  }
}
