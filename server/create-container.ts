import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateSpec, prepareMountSources } from '../oci/spec/generate-spec';
import { hostCapabilities, oomScoreAdjFloor } from '../oci/spec/host-capabilities';
import type { ImageConfigJson } from '../oci/spec/image-config';
import type { RuntimeHandler } from '../oci/runtime-handler';
import type { OciSpec } from '../oci/spec/oci-types';
import { ContainerEventType, CreateContainerRequest, type ContainerConfig, type CreateContainerResponse, type PodSandboxConfig } from '../proto/gen/cri-api-v1';
import type { ContainerRecord } from '../state/container-record';
import { newId } from '../system/ids';
import type { PodRecord } from '../state/pod-record';
import type { LeasedImage } from '../storage/image-manager';
import { mountRootfs, removeRootfs, rootfsPaths } from '../storage/rootfs';
import { CleanupStack } from '../system/cleanup-stack';
import { failureOnFullDisk, writing } from '../system/disk-full';
import { makeDirectories } from '../system/make-directories';
import { settle } from '../system/settle';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { fileBelow } from '../system/path-below';
import { containerBundle, containerName, containerStorage, nowNanos, storedContainerConfig, validContainerConfig, type ValidContainerConfig } from './container-config';
import type { ServerContext } from './context';
import type { CallerState } from './kept-creates';
import { loadedConfig } from './pod-config';
import { inPod } from './object-order';
import { handlerOfPod, observedPod } from './pod-sandbox';
import { targetPidNamespace } from './pid-target';
import { checkPath, quoted } from './request-validation';

const CREATE_TIMEOUT_MS = 60_000;

/**
 * Creates a container in a ready pod: reserves its name, mounts its root filesystem from the
 * image's layers, writes the OCI spec and hands the bundle to the pod's runtime handler.
 * Any failure undoes every step already made.
 */
export async function createContainer(ctx: ServerContext, request: CreateContainerRequest, caller: CallerState): Promise<CreateContainerResponse> {
  const valid = validContainerConfig(request.config);
  const pod = ctx.state.pods.get(request.podSandboxId);
  const name = containerName(valid.metadata, loadedConfig(pod.config).metadata);
  // The kubelet's retry after its deadline gets the container the first request made, however it named the pod.
  const asSent = CreateContainerRequest.toJSON({ ...request, podSandboxId: pod.id });
  const containerId = await ctx.kept.containers.run(name, asSent, caller, () => inPod(ctx, pod.id, (current) => createInPod(ctx, current, name, valid)));
  return { containerId };
}

async function createInPod(ctx: ServerContext, recorded: PodRecord, name: string, { config, image: imageName }: ValidContainerConfig): Promise<string> {
  const pod = observedPod(ctx, recorded);
  if (pod.state !== 'ready') throw new FailedPreconditionError(`pod sandbox ${pod.id} is not ready`);
  const podConfig = loadedConfig(pod.config);
  const handler = handlerOfPod(ctx, pod);
  await refuseUnsupportedMounts(handler, config);
  // Before anything is made: a debug container whose target is not there fails at once.
  const targetPid = await targetPidNamespace(ctx, pod.id, handler, config);
  const logPath = await containerLogPath(ctx, pod, podConfig, config);

  const id = newId();
  ctx.state.containers.names.reserve(name, id);
  const cleanup = new CleanupStack(ctx.logger, { container_id: id, pod_id: pod.id });
  cleanup.push('name', async () => ctx.state.containers.names.release(name));
  try {
    // The lease keeps the image's layers while the container is made and runs, even if the
    // image is removed meanwhile; the record names them too, and it is released last, after
    // the root filesystem is gone.
    const image = await ctx.images.lease(id, imageName);
    cleanup.push('image lease', () => ctx.images.release(id));
    const dir = containerStorage(ctx, id);
    const bundle = containerBundle(ctx, id);
    const record: ContainerRecord = {
      id,
      name,
      podId: pod.id,
      state: 'created',
      createdAt: nowNanos(),
      startedAt: '0',
      finishedAt: '0',
      exitCode: 0,
      reason: '',
      image: imageName,
      imageId: image.image.id,
      imageLayers: image.parts.layers,
      config: storedContainerConfig(config),
      logPath,
      dir,
      // Both come from the spec, written below; until then the defaults stand.
      stopSignal: 'SIGTERM',
      user: { uid: 0, gid: 0, additionalGids: [] },
    };
    // Recorded before the root filesystem, the bundle or conmon exist, so a crash is undone at the next start.
    await ctx.state.unfinishedContainers.begin(record);
    // Both removals are idempotent, so they are armed before the steps below run side by side.
    cleanup.push('rootfs', () => removeRootfs(rootfsPaths(dir)));
    cleanup.push('bundle', () => rm(bundle, { recursive: true, force: true }));
    const bundleWritten = writeBundle(ctx, { id, config, pod, podConfig, image, imageName, dir, bundle, logPath, targetPid });
    // The handler prepares its side (conmon, its cgroup) meanwhile and reads the bundle once written.
    const created = handler.createContainer({
      id,
      podId: pod.id,
      bundle,
      bundleWritten,
      logPath,
      terminal: config.tty,
      stdin: config.stdin,
      stdinOnce: config.stdinOnce,
      podCgroupPath: pod.cgroup.path,
      timeoutMs: CREATE_TIMEOUT_MS,
    });
    const [{ spec, imageConfig }] = await settle([bundleWritten, created]);
    cleanup.push('runtime', () => handler.removeContainer(id));

    const saved: ContainerRecord = {
      ...record,
      stopSignal: imageConfig.config?.StopSignal || 'SIGTERM',
      user: { uid: spec.process.user.uid, gid: spec.process.user.gid, additionalGids: spec.process.user.additionalGids },
      runtimeSpec: spec,
    };
    await ctx.state.containers.save(saved);
    await ctx.state.unfinishedContainers.finish(id);
    ctx.events.publish(ctx, saved, ContainerEventType.CONTAINER_CREATED_EVENT);
    ctx.logger.info('container created', { container_id: id, pod_id: pod.id, name, image: imageName });
    return id;
  } catch (error) {
    // Looked at before the undoing frees what the creation took.
    const failure = await failureOnFullDisk(error, `creating container ${id}`, [ctx.config.root, ctx.config.runroot, dirname(logPath)]);
    // What could not be undone stays recorded, for the next start to try again.
    if (await cleanup.unwind()) await ctx.state.unfinishedContainers.finish(id);
    throw failure;
  }
}

/** A recursive read-only mount the pod's handler cannot make is refused, not made writable below. */
async function refuseUnsupportedMounts(handler: RuntimeHandler, config: ContainerConfig): Promise<void> {
  const recursive = config.mounts.find((mount) => mount.recursiveReadOnly);
  if (recursive === undefined || (await handler.features()).recursiveReadOnlyMounts) return;
  throw new InvalidArgumentError(
    `mount ${recursive.containerPath}: recursive_read_only is not supported by runtime handler "${handler.name}" on this host (it needs Linux 5.12 and an OCI runtime whose features list rro)`,
  );
}

/**
 * Where the container's log goes: log_path below the pod's log_directory, its directories made.
 * Refused when a symbolic link (or anything but a directory) on the way could lead it elsewhere.
 */
async function containerLogPath(ctx: ServerContext, pod: PodRecord, podConfig: PodSandboxConfig, config: ContainerConfig): Promise<string> {
  const logDirectory = podConfig.logDirectory || join(ctx.config.runroot, 'logs', pod.id);
  const relative = config.logPath || `${config.metadata?.name ?? ''}_${config.metadata?.attempt ?? 0}.log`;
  const field = config.logPath ? 'config.log_path' : 'config.metadata.name, as the log file name';
  checkPath(relative, field, 'relative');
  await writing(`the log directory ${logDirectory}`, () => makeDirectories(logDirectory));
  const outside = await fileBelow(logDirectory, relative);
  if (outside !== undefined) {
    throw new InvalidArgumentError(`${field} ${quoted(relative)}: ${outside} is a symbolic link or not a directory or file; a container's log stays in its pod's log_directory`);
  }
  return join(logDirectory, relative);
}

interface BundleSource {
  id: string;
  config: ContainerConfig;
  pod: PodRecord;
  podConfig: PodSandboxConfig;
  image: LeasedImage;
  imageName: string;
  /** Holds the root filesystem. */
  dir: string;
  bundle: string;
  logPath: string;
  /** For pid mode TARGET: the target's PID namespace file. */
  targetPid: string | undefined;
}

/** Mounts the root filesystem and writes the OCI spec into the bundle; makes the log directory. */
async function writeBundle(ctx: ServerContext, source: BundleSource): Promise<{ spec: OciSpec; imageConfig: ImageConfigJson }> {
  const { id, config, pod, podConfig, bundle } = source;
  const [rootfs, imageConfig, mountedConfig, oomFloor, capabilities] = await settle([
    mountRootfs(source.dir, source.image.layerDirs),
    ctx.images.config(source.image.image) as Promise<ImageConfigJson>,
    prepareMountSources(config),
    oomScoreAdjFloor(),
    hostCapabilities(),
    writing(`the bundle ${bundle}`, () => makeDirectories(bundle, 0o700)),
    writing(`the log directory ${dirname(source.logPath)}`, () => makeDirectories(dirname(source.logPath))),
  ]);
  const spec = await generateSpec({
    containerId: id,
    config: mountedConfig,
    pod: {
      id: pod.id,
      config: podConfig,
      namespaces: pod.namespaces,
      ...handlerOfPod(ctx, pod).podContainerContext(pod.id),
      targetPidNamespace: source.targetPid,
      cgroupPath: pod.cgroup.path,
      cgroupManager: ctx.config.cgroup_manager,
    },
    image: { config: imageConfig, rootfs: rootfs.mountPoint, name: source.imageName },
    options: {
      defaultCapabilities: ctx.config.container.default_capabilities,
      seccompProfileRoot: '/var/lib/kubelet/seccomp',
      apparmorDefaultProfile: ctx.security.apparmorDefaultProfile,
      selinuxEnabled: ctx.security.selinux,
      oomScoreAdjFloor: oomFloor,
      availableCapabilities: capabilities,
    },
  });
  await ctx.security.prepareContainer(spec.process.apparmorProfile, spec.linux.mountLabel, mountedConfig.mounts);
  // Neither atomic nor synced: only the runtime's create reads it, after this write, and the
  // bundle lives under runroot, which does not outlive a reboot. A crash mid-write leaves the
  // same unused bundle a crash just before it would.
  const written = { ...spec, root: { ...spec.root, path: rootfs.mountPoint } };
  await writing(`the bundle ${bundle}`, () => writeFile(join(bundle, 'config.json'), JSON.stringify(written), { mode: 0o600 }));
  return { spec: written, imageConfig };
}
