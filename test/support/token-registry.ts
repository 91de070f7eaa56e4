import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { basicAuthorization, closeServer, forward, listenLocal, request } from '../../testbed/http';

// A registry behind Bearer token authentication, the way Docker Hub and most hosted registries
// work: the registry answers 401 naming a token service, which trades credentials for a token.

const SERVICE = 'test-registry';
const TOKEN_SECONDS = 300;

export interface TokenFrontOptions {
  user: string;
  password: string;
  /** A token the front accepts without it having been issued (a pre-obtained registry token). */
  registryToken?: string;
  /** A refresh token the token service accepts in a refresh_token grant. */
  identityToken?: string;
  /** Answer blob GETs with a 307 to a separate local listener that serves the blob. */
  redirectBlobs?: boolean;
}

export interface TokenRequest {
  method: string;
  params: URLSearchParams;
  authorization: string | undefined;
}

export interface TokenFront {
  /** 127.0.0.1:PORT of the registry front. */
  host: string;
  tokenRequests: TokenRequest[];
  /** Headers of every /v2/ request that reached the front. */
  registryRequests: IncomingHttpHeaders[];
  /** The listener blob GETs are redirected to, and the headers it received. */
  blobStore: { host: string; requests: IncomingHttpHeaders[] };
  stop(): Promise<void>;
}

function repositoryOf(path: string): string | undefined {
  return /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path)?.[1];
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Starts a token-authenticated front for the open docker-registry at `backend`. */
export async function startTokenFront(backend: string, options: TokenFrontOptions): Promise<TokenFront> {
  // Issued token -> whether it grants access (anonymous tokens do not).
  const tokens = new Map<string, boolean>();
  const tokenRequests: TokenRequest[] = [];
  const registryRequests: IncomingHttpHeaders[] = [];
  const blobRequests: IncomingHttpHeaders[] = [];

  const blobServer = http.createServer((req, res) => {
    blobRequests.push(req.headers);
    const match = /^\/blobs\/(.+)\/(sha256:[a-f0-9]{64})/.exec(req.url ?? '');
    if (match === null) return json(res, 404, {});
    request(`http://${backend}/v2/${match[1]}/blobs/${match[2]}`).then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
        res.end(body);
      },
      () => res.destroy(),
    );
  });
  const blobHost = await listenLocal(blobServer);

  const issue = (res: ServerResponse, access: boolean): void => {
    const token = randomBytes(16).toString('hex');
    tokens.set(token, access);
    json(res, 200, { token, expires_in: TOKEN_SECONDS, issued_at: new Date().toISOString() });
  };

  const serveToken = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://front');
    const params = req.method === 'POST' ? new URLSearchParams(await readAll(req)) : url.searchParams;
    tokenRequests.push({ method: req.method ?? '', params, authorization: req.headers.authorization });
    if (req.method === 'POST') {
      const valid = params.get('grant_type') === 'refresh_token' && options.identityToken !== undefined && params.get('refresh_token') === options.identityToken;
      return valid ? issue(res, true) : json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad refresh token' }] });
    }
    if (req.headers.authorization === undefined) return issue(res, false);
    if (req.headers.authorization === basicAuthorization(options.user, options.password)) return issue(res, true);
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
  };

  let frontHost = '';
  const serveRegistry = (req: IncomingMessage, res: ServerResponse): void => {
    registryRequests.push(req.headers);
    const path = req.url ?? '/';
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const allowed = bearer !== undefined && (tokens.get(bearer) === true || bearer === options.registryToken);
    if (!allowed) {
      const repository = repositoryOf(path);
      const scope = repository === undefined ? '' : `,scope="repository:${repository}:pull"`;
      const challenge = `Bearer realm="http://${frontHost}/token",service="${SERVICE}"${scope}`;
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': challenge });
    }
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (options.redirectBlobs && req.method === 'GET' && blob !== null) {
      res.writeHead(307, { location: `http://${blobHost}/blobs/${blob[1]}/${blob[2]}?signature=${randomBytes(8).toString('hex')}` });
      return void res.end();
    }
    forward(req, res, backend, ['authorization']);
  };

  const front = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith('/token')) {
      serveToken(req, res).catch(() => res.destroy());
      return;
    }
    serveRegistry(req, res);
  });
  frontHost = await listenLocal(front);

  return {
    host: frontHost,
    tokenRequests,
    registryRequests,
    blobStore: { host: blobHost, requests: blobRequests },
    stop: async () => {
      await Promise.all([closeServer(front), closeServer(blobServer)]);
    },
  };
}
