import { Client, credentials, type ServiceError } from '@grpc/grpc-js';

/** One method of a generated service definition. */
export interface MethodDefinition<Request, Response> {
  path: string;
  requestSerialize(value: Request): Buffer;
  responseDeserialize(value: Buffer): Response;
}

export function criClient(socket: string): Client {
  return new Client(`unix://${socket}`, credentials.createInsecure());
}

// Room for a loaded machine, never a statement about speed: a VM pod's cold boot under TCG
// takes several seconds alone and several times that beside other VMs.
const DEFAULT_DEADLINE_MS = 120_000;

/** Calls a unary method; rejects with the gRPC ServiceError (code, details) on failure. */
export function unary<Request, Response>(client: Client, method: MethodDefinition<Request, Response>, request: Request, deadlineMs = DEFAULT_DEADLINE_MS): Promise<Response> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      (value: Request) => method.requestSerialize(value),
      (value: Buffer) => method.responseDeserialize(value),
      request,
      { deadline: Date.now() + deadlineMs },
      (error: ServiceError | null, response?: Response) => (error ? reject(error) : resolve(response as Response)),
    );
  });
}

/** Calls a server-streaming method; resolves with every response, in order, once the stream ends. */
export function streamed<Request, Response>(client: Client, method: MethodDefinition<Request, Response>, request: Request, deadlineMs = DEFAULT_DEADLINE_MS): Promise<Response[]> {
  return new Promise((resolve, reject) => {
    const responses: Response[] = [];
    const call = client.makeServerStreamRequest(
      method.path,
      (value: Request) => method.requestSerialize(value),
      (value: Buffer) => method.responseDeserialize(value),
      request,
      { deadline: Date.now() + deadlineMs },
    );
    call.on('data', (response: Response) => responses.push(response));
    call.on('error', reject);
    call.on('end', () => resolve(responses));
  });
}
