import type { ListMetricDescriptorsResponse } from '../proto/gen/cri-api-v1';
import { METRIC_DESCRIPTORS } from './metric-descriptors';

export function listMetricDescriptors(): Promise<ListMetricDescriptorsResponse> {
  return Promise.resolve({ descriptors: [...METRIC_DESCRIPTORS] });
}
