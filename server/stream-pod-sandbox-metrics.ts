import type { StreamPodSandboxMetricsRequest, StreamPodSandboxMetricsResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { criPodSandboxMetrics, metricPods } from './pod-metrics-view';

/** ListPodSandboxMetrics's items, one pod per message, so no message outgrows gRPC's limit. */
export async function streamPodSandboxMetrics(
  ctx: ServerContext,
  _request: StreamPodSandboxMetricsRequest,
  send: (response: StreamPodSandboxMetricsResponse) => Promise<void>,
  cancelled: AbortSignal,
): Promise<void> {
  for (const pod of metricPods(ctx)) {
    if (cancelled.aborted) return;
    await send({ podSandboxMetrics: [await criPodSandboxMetrics(ctx, pod)] });
  }
}
