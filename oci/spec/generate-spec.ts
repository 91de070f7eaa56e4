import { hostname as hostHostname } from 'node:os';
import type { CgroupManager } from '../../config/config';
import { NamespaceMode, type ContainerConfig, type PodSandboxConfig } from '../../proto/gen/cri-api-v1';
import { seccompFor } from '../../seccomp/profile';
import { InvalidArgumentError } from '../../system/errors';
import { containerCapabilities } from './capabilities';
import { containerCgroupsPath } from './cgroups-path';
import { containerDevices } from './devices';
import type { ImageConfigJson } from './image-config';
import { resolveUser } from './image-user';
import { containerMounts, rootfsPropagation, type PodMountFiles } from './mounts';
import { containerNamespaces } from './namespaces';
import type { OciProcess, OciSpec } from './oci-types';
import { processArgs, processCwd, processEnv } from './process-args';
import { containerResources, oomScoreAdj } from './resources';
import { appArmorProfile, seLinuxLabels } from './security-labels';

export { prepareMountSources } from './mounts';

export interface SpecInput {
  containerId: string;
  config: ContainerConfig;
  pod: {
    id: string;
    config: PodSandboxConfig;
    /** bind-mounted namespace files; absent = host namespace */
    namespaces: { network?: string; ipc?: string; uts?: string };
    /** /proc/<infra pid>/ns/pid when the pod shares one PID namespace */
    pidNamespace?: string;
    /** For pid mode TARGET: the target container's PID namespace file, as the OCI runtime sees it. */
    targetPidNamespace?: string;
    files: PodMountFiles;
    /** the pod cgroup path, e.g. /podvisor/pod-<id> or /kubepods.slice/kubepods-podX.slice */
    cgroupPath: string;
    cgroupManager: CgroupManager;
  };
  image: {
    config: ImageConfigJson;
    /** mounted root filesystem; etc/passwd and etc/group are read from it without leaving it */
    rootfs: string;
    /** the image reference the kubelet asked for, for the image-name annotation */
    name?: string;
  };
  options: {
    defaultCapabilities: string[];
    /** kubelet's seccomp directory for Localhost references */
    seccompProfileRoot: string;
    /** the profile loaded for AppArmor's RuntimeDefault; undefined where AppArmor is off */
    apparmorDefaultProfile: string | undefined;
    selinuxEnabled: boolean;
    /** lowest oom_score_adj allowed on this host */
    oomScoreAdjFloor: number;
    /** The capabilities the runtime itself holds, which "ALL" and privileged stand for; default every one. */
    availableCapabilities?: readonly string[];
  };
}

const OCI_VERSION = '1.0.2';

// Paths in /proc and /sys that reveal or change host-wide state; a container sees them empty
// (masked) or read-only, as every mainstream runtime arranges.
const DEFAULT_MASKED_PATHS = [
  '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi',
  '/sys/firmware', '/sys/devices/virtual/powercap',
];
const DEFAULT_READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * The annotations a runtime shim or monitoring agent uses to find a container's pod, under the
 * names containerd uses; ours are written last so a CRI annotation cannot pose as them.
 */
function annotations(input: SpecInput): Record<string, string> {
  const pod = input.pod.config.metadata;
  return {
    ...input.config.annotations,
    'io.kubernetes.cri.container-type': 'container',
    'io.kubernetes.cri.container-name': input.config.metadata?.name ?? '',
    'io.kubernetes.cri.sandbox-id': input.pod.id,
    'io.kubernetes.cri.sandbox-name': pod?.name ?? '',
    'io.kubernetes.cri.sandbox-namespace': pod?.namespace ?? '',
    'io.kubernetes.cri.sandbox-uid': pod?.uid ?? '',
    'io.kubernetes.cri.image-name': input.image.name ?? input.config.image?.image ?? '',
  };
}

/** CRI masked/readonly lists replace the defaults when given; a privileged container has neither. */
function protectedPaths(requested: string[] | undefined, defaults: string[], privileged: boolean): string[] {
  if (privileged) return [];
  return requested !== undefined && requested.length > 0 ? requested : defaults;
}

/**
 * The OCI runtime spec (config.json) for one container of a pod. Reads the image's passwd and
 * group files, host device nodes and Localhost seccomp profiles; writes nothing. Call
 * prepareMountSources on the config first so its host paths exist and are resolved.
 */
export async function generateSpec(input: SpecInput): Promise<OciSpec> {
  const { config, pod, image, options } = input;
  const context = config.linux?.securityContext;
  const resources = config.linux?.resources;
  const privileged = context?.privileged ?? false;
  if (privileged && !(pod.config.linux?.securityContext?.privileged ?? false)) {
    throw new InvalidArgumentError('security_context.privileged: a privileged container needs a privileged pod');
  }
  const readonlyRootfs = context?.readonlyRootfs ?? false;
  const ownUts = pod.namespaces.uts !== undefined;
  const hostname = ownUts ? pod.config.hostname : hostHostname();

  const capabilities = containerCapabilities(options.defaultCapabilities, context?.capabilities, privileged, options.availableCapabilities);
  const selinux = seLinuxLabels(context?.selinuxOptions, options.selinuxEnabled);
  const process: OciProcess = {
    terminal: config.tty,
    user: await resolveUser({ rootfs: image.rootfs, imageUser: image.config.config?.User ?? '', securityContext: context }),
    args: processArgs(config, image.config),
    env: processEnv(config, image.config, hostname),
    cwd: processCwd(config, image.config),
    capabilities,
    noNewPrivileges: context?.noNewPrivs ?? false,
    oomScoreAdj: oomScoreAdj(resources, options.oomScoreAdjFloor),
  };
  const apparmor = appArmorProfile(context, options.apparmorDefaultProfile);
  if (apparmor !== undefined) process.apparmorProfile = apparmor;
  if (selinux.process !== undefined) process.selinuxLabel = selinux.process;

  const devices = await containerDevices(config.devices, privileged);
  const seccomp = await seccompFor(context?.seccomp, context?.seccompProfilePath ?? '', {
    seccompProfileRoot: options.seccompProfileRoot,
    capabilities: capabilities.bounding,
    privileged,
  });

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: image.rootfs, readonly: readonlyRootfs },
    mounts: containerMounts(config, pod.files, privileged, readonlyRootfs),
    annotations: annotations(input),
    linux: {
      namespaces: containerNamespaces(context?.namespaceOptions, {
        ...pod.namespaces,
        pid: pod.pidNamespace,
        hostPid: pod.config.linux?.securityContext?.namespaceOptions?.pid === NamespaceMode.NODE,
        targetPid: pod.targetPidNamespace,
      }),
      resources: { devices: devices.rules, ...containerResources(resources) },
      cgroupsPath: containerCgroupsPath(pod.cgroupPath, pod.cgroupManager, input.containerId),
      devices: devices.devices,
      maskedPaths: protectedPaths(context?.maskedPaths, DEFAULT_MASKED_PATHS, privileged),
      readonlyPaths: protectedPaths(context?.readonlyPaths, DEFAULT_READONLY_PATHS, privileged),
      sysctl: { ...pod.config.linux?.sysctls },
    },
  };
  if (ownUts) spec.hostname = hostname;
  if (seccomp !== undefined) spec.linux.seccomp = seccomp;
  if (selinux.mount !== undefined) spec.linux.mountLabel = selinux.mount;
  const propagation = rootfsPropagation(config);
  if (propagation !== undefined) spec.linux.rootfsPropagation = propagation;
  return spec;
}
