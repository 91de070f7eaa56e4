import type { ListPodSandboxMetricsResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';
import { criPodSandboxMetrics, metricPods } from './pod-metrics-view';

export async function listPodSandboxMetrics(ctx: ServerContext): Promise<ListPodSandboxMetricsResponse> {
  return { podMetrics: await Promise.all(metricPods(ctx).map((pod) => criPodSandboxMetrics(ctx, pod))) };
}
