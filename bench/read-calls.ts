import type { CriCalls } from './cri-calls';

/** What a read call names: a pod, a container, or nothing (a list, or the bench's image). */
export type ReadTarget = 'pod' | 'container';

/** One of the calls the kubelet makes over and over to read a runtime's state. */
export interface ReadCall {
  label: string;
  target?: ReadTarget;
  /** `id` is a pod's or container's ID as `target` says; untargeted calls ignore it. */
  call(cri: CriCalls, id: string): Promise<unknown>;
}

/** Every read call the kubelet makes of a runtime, ImageStatus of `image`, in the order a reader takes them. */
export function readCalls(image: string): ReadCall[] {
  return [
    { label: 'ContainerStatus', target: 'container', call: (cri, id) => cri.containerStatus(id) },
    { label: 'ContainerStatus verbose', target: 'container', call: (cri, id) => cri.containerStatus(id, true) },
    { label: 'PodSandboxStatus', target: 'pod', call: (cri, id) => cri.podStatus(id) },
    { label: 'PodSandboxStatus verbose', target: 'pod', call: (cri, id) => cri.podStatus(id, true) },
    { label: 'ImageStatus', call: (cri) => cri.imageStatus(image) },
    { label: 'ListImages', call: (cri) => cri.listImages() },
    { label: 'ListContainers', call: (cri) => cri.listContainers() },
    { label: 'ListPodSandbox', call: (cri) => cri.listPods() },
    { label: 'ContainerStats', target: 'container', call: (cri, id) => cri.containerStats(id) },
    { label: 'PodSandboxStats', target: 'pod', call: (cri, id) => cri.podStats(id) },
    { label: 'ListContainerStats', call: (cri) => cri.listContainerStats() },
    { label: 'ListPodSandboxStats', call: (cri) => cri.listPodStats() },
  ];
}

/** The labels of readCalls, in its order: the rows of the read tables. */
export const READ_LABELS = readCalls('').map((read) => read.label);

/** When the reads are timed: on a daemon with nothing else to do, or beside the pod lifecycles. */
export const READ_PHASES = ['idle', 'churn'] as const;
export type ReadPhase = (typeof READ_PHASES)[number];
