import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { counter, histogram, renderMetrics } from '../system/metrics-registry';

const callDuration = histogram('podvisor_cri_request_duration_seconds', 'Duration of CRI calls by method and status code.');

// The calls that change a container's or a pod's life, by the operation an operator knows them as.
const CONTAINER_OPERATIONS: Record<string, string> = {
  CreateContainer: 'create',
  StartContainer: 'start',
  StopContainer: 'stop',
  RemoveContainer: 'remove',
  UpdateContainerResources: 'update',
};
const POD_OPERATIONS: Record<string, string> = { RunPodSandbox: 'run', StopPodSandbox: 'stop', RemovePodSandbox: 'remove' };

const containerOperations = counter('podvisor_container_operations_total', 'Container operations (create, start, stop, remove, update) asked for.');
const containerOperationErrors = counter('podvisor_container_operation_errors_total', 'Container operations that failed, by status code.');
const podOperations = counter('podvisor_pod_operations_total', 'Pod sandbox operations (run, stop, remove) asked for.');
const podOperationErrors = counter('podvisor_pod_operation_errors_total', 'Pod sandbox operations that failed, by status code.');

/** CRI call counts and latencies, and the container and pod operations among them, served in the Prometheus text format. */
export class CallMetrics {
  record(method: string, code: string, seconds: number): void {
    callDuration.observe({ method, code }, seconds);
    for (const [operations, total, errors] of [
      [CONTAINER_OPERATIONS, containerOperations, containerOperationErrors],
      [POD_OPERATIONS, podOperations, podOperationErrors],
    ] as const) {
      const operation = operations[method];
      if (operation === undefined) continue;
      total.inc({ operation });
      if (code !== 'OK') errors.inc({ operation, code });
    }
  }

  render(): string {
    return renderMetrics();
  }

  /** Serves /metrics on host:port; resolves with the bound address once listening. */
  async serve(address: string): Promise<{ server: Server; address: AddressInfo }> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(at + 1));
    const server = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(this.render());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return { server, address: server.address() as AddressInfo };
  }
}
