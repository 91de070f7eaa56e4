import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// Upper bounds in seconds, spanning a cached ListContainers to a slow image pull.
const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

/** CRI call counts and latencies, served in the Prometheus text format. */
export class CallMetrics {
  private readonly series = new Map<string, Series>();

  record(method: string, code: string, seconds: number): void {
    const key = `method="${method}",code="${code}"`;
    let series = this.series.get(key);
    if (!series) {
      series = { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) };
      this.series.set(key, series);
    }
    series.count += 1;
    series.sum += seconds;
    BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) series.buckets[i] += 1;
    });
  }

  render(): string {
    const lines = [
      '# HELP podvisor_cri_request_duration_seconds Duration of CRI calls by method and status code.',
      '# TYPE podvisor_cri_request_duration_seconds histogram',
    ];
    for (const [labels, series] of this.series) {
      BUCKETS.forEach((bound, i) => lines.push(`podvisor_cri_request_duration_seconds_bucket{${labels},le="${bound}"} ${series.buckets[i]}`));
      lines.push(`podvisor_cri_request_duration_seconds_bucket{${labels},le="+Inf"} ${series.count}`);
      lines.push(`podvisor_cri_request_duration_seconds_sum{${labels}} ${series.sum}`);
      lines.push(`podvisor_cri_request_duration_seconds_count{${labels}} ${series.count}`);
    }
    return lines.join('\n') + '\n';
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
