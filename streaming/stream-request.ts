// What the CRI server hands the streaming server: one exec, attach or port-forward the client
// may now connect to, with the callback that does the work once the client's streams are in.
import type { ForwardedConnection, StreamIO } from '../oci/stream-io';

export interface RemoteCommandRequest {
  kind: 'exec' | 'attach';
  containerId: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** Runs with the client's streams; resolves to the exit code (exec) or undefined (attach). */
  run(io: StreamIO): Promise<number | undefined>;
}

export interface PortForwardRequest {
  kind: 'portforward';
  podId: string;
  /** Ports named in the CRI request; empty: the client names them (per stream, or ?port=). */
  ports: number[];
  forward(connection: ForwardedConnection): Promise<void>;
}

export type StreamRequest = RemoteCommandRequest | PortForwardRequest;
