import type { VersionRequest, VersionResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';

// `version` is the CRI's own API version field, which every runtime answers as 0.1.0; the
// kubelet goes by runtime_api_version. v1 is the only one we serve, whatever it asks.
export async function version(ctx: ServerContext, _request: VersionRequest): Promise<VersionResponse> {
  return {
    version: '0.1.0',
    runtimeName: 'podvisor',
    runtimeVersion: ctx.version,
    runtimeApiVersion: 'v1',
  };
}
