// Registers both CRI services whole: every method of the contract has its verb (one file each in
// server/); the maps' type makes a method added to the proto without one a compile error.
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { ImageServiceService, RuntimeServiceService, type StreamPodSandboxesResponse } from '../proto/gen/cri-api-v1';
import { serverStreamingCall, unaryCall, type StreamingVerb, type Verb } from './call';
import type { ServerContext } from './context';
import type { CallMetrics } from './metrics';
import { containerStats } from './container-stats';
import { containerStatus } from './container-status';
import { listContainerStats } from './list-container-stats';
import { createContainer } from './create-container';
import { execSync } from './exec-sync';
import { exec } from './exec';
import { attach } from './attach';
import { portForward } from './port-forward';
import { getContainerEvents } from './get-container-events';
import { imageFsInfo } from './image-fs-info';
import { listContainers } from './list-containers';
import {
  encodeContainerStatusResponse,
  encodeImageStatusResponse,
  encodeListContainersResponse,
  encodeListImagesResponse,
  encodeListPodSandboxResponse,
} from './response-encoding';
import { removeContainer } from './remove-container';
import { checkedDeserializer } from './request-decoding';
import { reopenContainerLog } from './reopen-container-log';
import { startContainer } from './start-container';
import { stopContainer } from './stop-container';
import { updateContainerResources } from './update-container-resources';
import { imageStatus } from './image-status';
import { listImages } from './list-images';
import { listPodSandbox } from './list-pod-sandbox';
import { listPodSandboxStats } from './list-pod-sandbox-stats';
import { listMetricDescriptors } from './list-metric-descriptors';
import { listPodSandboxMetrics } from './list-pod-sandbox-metrics';
import { streamPodSandboxMetrics } from './stream-pod-sandbox-metrics';
import { podSandboxStats } from './pod-sandbox-stats';
import { podSandboxStatus } from './pod-sandbox-status';
import { removePodSandbox } from './remove-pod-sandbox';
import { runPodSandbox } from './run-pod-sandbox';
import { stopPodSandbox } from './stop-pod-sandbox';
import { pullImage } from './pull-image';
import { removeImage } from './remove-image';
import { runtimeConfig } from './runtime-config';
import { status } from './status';
import { version } from './version';
import { updateRuntimeConfig } from './update-runtime-config';
import { updatePodSandboxResources } from './update-pod-sandbox-resources';
import { checkpointContainer } from './checkpoint-container';
import { streamPodSandboxes } from './stream-pod-sandboxes';
import { streamContainers } from './stream-containers';
import { streamContainerStats } from './stream-container-stats';
import { streamPodSandboxStats } from './stream-pod-sandbox-stats';
import { streamImages } from './stream-images';

type RequestOf<M> = M extends { requestDeserialize(value: Buffer): infer R } ? R : never;
type ResponseOf<M> = M extends { responseSerialize(value: infer R): Buffer } ? R : never;

/** The verbs of one service, each typed by its method's request and response messages. */
type Verbs<D> = {
  [K in keyof D]: D[K] extends { responseStream: true }
    ? StreamingVerb<RequestOf<D[K]>, ResponseOf<D[K]>>
    : Verb<RequestOf<D[K]>, ResponseOf<D[K]>>;
};

const RUNTIME_VERBS: Verbs<typeof RuntimeServiceService> = {
  version,
  status,
  runtimeConfig,
  runPodSandbox,
  stopPodSandbox,
  removePodSandbox,
  podSandboxStatus,
  listPodSandbox,
  createContainer,
  startContainer,
  stopContainer,
  removeContainer,
  containerStatus,
  listContainers,
  execSync,
  exec,
  attach,
  portForward,
  reopenContainerLog,
  containerStats,
  listContainerStats,
  updateContainerResources,
  podSandboxStats,
  listPodSandboxStats,
  getContainerEvents,
  updateRuntimeConfig,
  updatePodSandboxResources,
  checkpointContainer,
  streamPodSandboxes,
  streamContainers,
  streamContainerStats,
  streamPodSandboxStats,
  listMetricDescriptors,
  listPodSandboxMetrics,
  streamPodSandboxMetrics,
};
const IMAGE_VERBS: Verbs<typeof ImageServiceService> = { pullImage, listImages, imageStatus, removeImage, imageFsInfo, streamImages };

interface MethodDefinition {
  path: string;
  responseStream: boolean;
}

function implement(
  definition: Record<string, MethodDefinition>,
  verbs: Record<string, unknown>,
  ctx: ServerContext,
  metrics: CallMetrics,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition)) {
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    const verb = verbs[key];
    implementation[key] = method.responseStream
      ? serverStreamingCall(ctx, metrics, name, verb as StreamingVerb<unknown, unknown>)
      : unaryCall(ctx, metrics, name, verb as Verb<unknown, unknown>);
  }
  return implementation;
}

/** The definition with every method's requests decoded by checkedDeserializer. */
function withCheckedRequests<D extends Record<string, { requestDeserialize(bytes: Buffer): unknown }>>(definition: D): D {
  const checked: Record<string, unknown> = {};
  for (const [key, method] of Object.entries(definition)) checked[key] = { ...method, requestDeserialize: checkedDeserializer((bytes) => method.requestDeserialize(bytes)) };
  return checked as D;
}

// The answers asked for most are encoded from bytes kept per view (response-encoding.ts).
const RUNTIME_SERVICE = withCheckedRequests({
  ...RuntimeServiceService,
  listContainers: { ...RuntimeServiceService.listContainers, responseSerialize: encodeListContainersResponse },
  listPodSandbox: { ...RuntimeServiceService.listPodSandbox, responseSerialize: encodeListPodSandboxResponse },
  containerStatus: { ...RuntimeServiceService.containerStatus, responseSerialize: encodeContainerStatusResponse },
  streamContainers: { ...RuntimeServiceService.streamContainers, responseSerialize: encodeListContainersResponse },
  streamPodSandboxes: {
    ...RuntimeServiceService.streamPodSandboxes,
    responseSerialize: (response: StreamPodSandboxesResponse) => encodeListPodSandboxResponse({ items: response.podSandboxes }),
  },
});
const IMAGE_SERVICE = withCheckedRequests({
  ...ImageServiceService,
  listImages: { ...ImageServiceService.listImages, responseSerialize: encodeListImagesResponse },
  imageStatus: { ...ImageServiceService.imageStatus, responseSerialize: encodeImageStatusResponse },
  streamImages: { ...ImageServiceService.streamImages, responseSerialize: encodeListImagesResponse },
});

export function criServices(ctx: ServerContext, metrics: CallMetrics): [ServiceDefinition, UntypedServiceImplementation][] {
  return [
    [RUNTIME_SERVICE, implement(RUNTIME_SERVICE, RUNTIME_VERBS, ctx, metrics)],
    [IMAGE_SERVICE, implement(IMAGE_SERVICE, IMAGE_VERBS, ctx, metrics)],
  ];
}
