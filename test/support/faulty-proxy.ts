import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, forward, listenLocal, request } from '../../testbed/http';

// A plain-HTTP front for a registry that misbehaves on purpose, for the failures a real
// network produces: overloaded servers, cut connections, stalls and damaged bytes.

export interface FaultOptions {
  /** Answer the first `count` requests whose path matches with `status`. */
  failFirst?: { count: number; path: RegExp; status: number };
  /** Cut the connection halfway through the first `count` blob bodies. */
  dropBlobs?: number;
  /** Change one byte of every blob body. */
  corruptBlobs?: boolean;
  /** Add a byte to every manifest body, so that it no longer matches its digest. */
  corruptManifests?: boolean;
  /** Send half of each blob body, then nothing more. */
  stallBlobs?: boolean;
}

export interface FaultyProxy {
  /** 127.0.0.1:PORT */
  host: string;
  /** Paths of the requests received, in order. */
  requests: string[];
  /** Connections that did not speak HTTP (a client trying TLS first). */
  nonHttpConnections: number;
  stop(): Promise<void>;
}

const BLOB_GET = /^\/v2\/.+\/blobs\/sha256:/;
const MANIFEST_GET = /^\/v2\/.+\/manifests\//;

/** The backend's answer to the same GET, buffered so that it can be altered. */
async function fetchFromBackend(req: IncomingMessage, backend: string): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const accept = req.headers.accept;
  const answer = await request(`http://${backend}${req.url ?? '/'}`, { headers: accept ? { accept } : {} });
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'docker-content-digest']) {
    const value = answer.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return { status: answer.status, headers, body: answer.body };
}

export async function startFaultyProxy(backend: string, options: FaultOptions): Promise<FaultyProxy> {
  const requests: string[] = [];
  let failed = 0;
  let dropped = 0;
  let nonHttpConnections = 0;

  const tamper = async (req: IncomingMessage, res: ServerResponse, isBlob: boolean): Promise<void> => {
    const { status, headers, body } = await fetchFromBackend(req, backend);
    if (status !== 200) {
      res.writeHead(status, headers);
      return void res.end(body);
    }
    if (!isBlob) {
      const altered = Buffer.concat([body, Buffer.from(' ')]);
      res.writeHead(200, { ...headers, 'content-length': String(altered.length) });
      return void res.end(altered);
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    const half = body.subarray(0, Math.floor(body.length / 2));
    if (options.stallBlobs) return void res.write(half);
    if (dropped < (options.dropBlobs ?? 0)) {
      dropped++;
      res.write(half, () => res.socket?.destroy());
      return;
    }
    const altered = Buffer.from(body);
    altered[altered.length - 1] ^= 0xff;
    res.end(altered);
  };

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const fail = options.failFirst;
    if (fail !== undefined && failed < fail.count && fail.path.test(path)) {
      failed++;
      res.writeHead(fail.status, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try again later' }] }));
    }
    const isBlob = req.method === 'GET' && BLOB_GET.test(path);
    const isManifest = req.method === 'GET' && MANIFEST_GET.test(path);
    const blobFault = options.corruptBlobs || options.stallBlobs || dropped < (options.dropBlobs ?? 0);
    if ((isBlob && blobFault) || (isManifest && options.corruptManifests)) {
      tamper(req, res, isBlob).catch(() => res.destroy());
      return;
    }
    forward(req, res, backend);
  });
  server.on('clientError', (_error, socket) => {
    nonHttpConnections++;
    socket.destroy();
  });
  const host = await listenLocal(server);
  return {
    host,
    requests,
    get nonHttpConnections() {
      return nonHttpConnections;
    },
    stop: () => closeServer(server),
  };
}
