import { NamespaceMode, type NamespaceOption } from '../../proto/gen/cri-api-v1';
import { FailedPreconditionError, InvalidArgumentError } from '../../system/errors';
import type { OciNamespace } from './oci-types';

export interface PodNamespaces {
  /** bind-mounted namespace files; absent = host namespace */
  network?: string;
  ipc?: string;
  uts?: string;
  /** /proc/<infra pid>/ns/pid when the pod shares one PID namespace */
  pid?: string;
  /** The pod itself is in the host's PID namespace (its pid mode is NODE). */
  hostPid?: boolean;
  /** For pid mode TARGET: the PID namespace file of the target container, as the OCI runtime sees it. */
  targetPid?: string;
}

function join(type: OciNamespace['type'], path: string | undefined): OciNamespace[] {
  return path === undefined ? [] : [{ type, path }];
}

function refuseTarget(mode: NamespaceMode, field: string): void {
  if (mode === NamespaceMode.TARGET) throw new InvalidArgumentError(`namespace_options.${field}: TARGET namespaces are not supported`);
}

/**
 * The PID namespace: a new one, the pod's, another container's or (no entry) the host's. POD is
 * the CRI's zero value, so it is also what a container that names no mode gets: the pod's
 * shared namespace, the host's for a pod in the host's, and a new one for a pod that shares
 * none (each of its containers then has its own, as peers' containers share only a pause).
 */
function pidNamespace(mode: NamespaceMode, pod: PodNamespaces): OciNamespace[] {
  switch (mode) {
    case NamespaceMode.CONTAINER:
      return [{ type: 'pid' }];
    case NamespaceMode.POD:
      if (pod.pid !== undefined) return [{ type: 'pid', path: pod.pid }];
      return pod.hostPid === true ? [] : [{ type: 'pid' }];
    case NamespaceMode.NODE:
      return [];
    case NamespaceMode.TARGET:
      if (pod.targetPid === undefined) throw new FailedPreconditionError('namespace_options.pid: TARGET needs the target container, which was not resolved');
      return [{ type: 'pid', path: pod.targetPid }];
    default:
      throw new InvalidArgumentError(`namespace_options.pid: unknown mode ${mode}`);
  }
}

/**
 * The namespaces runc puts the process in. Network, IPC and UTS belong to the pod: the container
 * joins the pod's files, or stays in the host's when the pod has none (host network/IPC). The
 * mount namespace is always the container's own; an entry without a path means a new namespace.
 */
export function containerNamespaces(options: NamespaceOption | undefined, pod: PodNamespaces): OciNamespace[] {
  const network = options?.network ?? NamespaceMode.POD;
  const ipc = options?.ipc ?? NamespaceMode.POD;
  refuseTarget(network, 'network');
  refuseTarget(ipc, 'ipc');
  if (network === NamespaceMode.CONTAINER) throw new InvalidArgumentError('namespace_options.network: a container cannot have a network namespace apart from its pod');
  const ipcNamespace = ipc === NamespaceMode.CONTAINER ? [{ type: 'ipc' as const }] : join('ipc', ipc === NamespaceMode.POD ? pod.ipc : undefined);
  return [
    ...pidNamespace(options?.pid ?? NamespaceMode.POD, pod),
    ...join('network', network === NamespaceMode.POD ? pod.network : undefined),
    ...ipcNamespace,
    ...join('uts', pod.uts),
    { type: 'mount' },
  ];
}
