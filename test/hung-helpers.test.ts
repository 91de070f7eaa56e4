// Helpers outside the daemon that stop answering (a CNI plugin, the OCI runtime, a registry),
// through the CRI socket: the call that waits on one fails with DEADLINE_EXCEEDED or UNAVAILABLE
// naming it, the hung helper is killed with whatever it started, the failed call leaves nothing
// behind, and a pod started meanwhile works. The plugin and the runtime are the real ones behind
// a small script that hangs on cue (a marker file); the registry is the real one behind a
// front that stalls or cuts the connection.
import { status as Code, type ServiceError } from '@grpc/grpc-js';
import { appendFile, chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerState, ImageServiceService as Images, ImageSpec, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { isProcessRunning } from '../system/process-stat';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { pushImage } from '../testbed/test-images';
import { ContainerDaemon } from './support/container-daemon';
import { startFaultyProxy, type FaultOptions } from './support/faulty-proxy';
import { grpcFailure } from './support/grpc-failure';
import { auditNetwork, hostAudit } from './support/host-audit';

const SUBNET = '10.219.45.0/24';
// Short, so the suite is quick; long enough that a pod started beside a hung call is up well before it.
const HELPER_TIMEOUT_SECONDS = 10;
const PROGRESS_TIMEOUT_SECONDS = 3;
const TEST_MS = 90_000;
const WAIT_MS = 30_000;
const POLL_MS = 50;
const REAL_BRIDGE = '/usr/lib/cni/bridge';
const REAL_RUNTIME = '/usr/bin/runc';

/**
 * A script that records its pid and its child's, then waits on that child (a sleep) for good:
 * a helper that hangs, and started something that must die with it.
 */
function hangAndRecord(pidsFile: string): string {
  return `sleep 3600 &\necho "$$ $!" > ${pidsFile}\nwait\n`;
}

describe('hung helpers', () => {
  let daemon: ContainerDaemon;
  let fakes: string;
  const podIds = new Set<string>();

  const path = (name: string): string => join(fakes, name);

  beforeAll(async () => {
    fakes = await mkdtemp(join(tmpdir(), 'podvisor-hung-'));
    await mkdir(path('cni'));
    // The bridge plugin, but an ADD for a pod named hang-* hangs while the marker exists.
    await writeFile(
      path('cni/bridge'),
      `#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ] && [ -e ${path('cni-hang')} ]; then\n  case "$CNI_ARGS" in *K8S_POD_NAME=hang-*)\n${hangAndRecord(path('cni-hung.pids'))}  ;; esac\nfi\nexec ${REAL_BRIDGE}\n`,
    );
    // runc, but the subcommand the marker names (create, start) hangs while the marker exists.
    await writeFile(
      path('runtime'),
      `#!/bin/sh\nfor arg in "$@"; do\n  if [ -e ${path('runtime-hang')} ] && [ "$arg" = "$(cat ${path('runtime-hang')})" ]; then\n${hangAndRecord(path('runtime-hung.pids'))}  fi\ndone\nexec ${REAL_RUNTIME} "$@"\n`,
    );
    await Promise.all([chmod(path('cni/bridge'), 0o755), chmod(path('runtime'), 0o755)]);
    const config = [
      '[network]',
      `cni_plugin_dirs = ["${path('cni')}", "/usr/lib/cni"]`,
      `plugin_timeout_seconds = ${HELPER_TIMEOUT_SECONDS}`,
      '[image]',
      `pull_progress_timeout_seconds = ${PROGRESS_TIMEOUT_SECONDS}`,
      '[runtime.handlers.runc]',
      'type = "oci"',
      `runtime_path = "${REAL_RUNTIME}"`,
      '[runtime.handlers.hang]',
      'type = "oci"',
      `runtime_path = "${path('runtime')}"`,
      `runtime_timeout_seconds = ${HELPER_TIMEOUT_SECONDS}`,
    ].join('\n');
    daemon = await ContainerDaemon.start(SUBNET, { config });
  }, TEST_MS);

  afterAll(async () => {
    await daemon?.close();
    if (fakes) await rm(fakes, { recursive: true, force: true });
  }, TEST_MS);

  afterEach(async () => {
    await Promise.all([rm(path('cni-hang'), { force: true }), rm(path('runtime-hang'), { force: true })]);
    for (const podSandboxId of await daemon.podIds()) await daemon.stopAndRemovePod(podSandboxId);
  }, TEST_MS);

  async function runPod(name: string, handler = ''): Promise<string> {
    const id = await daemon.runPod(name, handler);
    podIds.add(id);
    return id;
  }

  /** The pids a hung helper recorded, once it has. */
  async function hungPids(file: string): Promise<number[]> {
    const recorded = await waitUntil(async () => (await readFile(path(file), 'utf8').catch(() => '')).includes(' '), WAIT_MS, POLL_MS);
    if (!recorded) throw new Error(`the helper never hung (no ${file})`);
    return (await readFile(path(file), 'utf8')).trim().split(' ').map(Number);
  }

  /** Whether every one of the processes has ended (a killed one is reaped by its parent, or init, soon after). */
  async function allGone(pids: number[]): Promise<boolean> {
    return waitUntil(async () => (await Promise.all(pids.map(isProcessRunning))).every((running) => !running), WAIT_MS, POLL_MS);
  }

  /** Another pod, made while a call hangs: it runs a container and answers an exec. */
  async function podWorks(name: string): Promise<void> {
    const podId = await runPod(name);
    const container = await daemon.createContainer(podId, 'app', ['sleep', '600']);
    await unary(daemon.client, Runtime.startContainer, { containerId: container });
    const exec = await unary(daemon.client, Runtime.execSync, { containerId: container, cmd: ['echo', 'alive'], timeout: 30n });
    expect(exec.stdout.toString()).toBe('alive\n');
  }

  /**
   * Runs `call`, which a helper hangs (it records its pids in `pidsFile`); meanwhile another pod
   * is made and works, while the call still waits. Answers the call's failure, which must be
   * DEADLINE_EXCEEDED, once the hung helper and its child are gone.
   */
  async function hangsBesideAnotherPod(call: Promise<unknown>, pidsFile: string, beside: string): Promise<ServiceError> {
    let settled = false;
    const failure = grpcFailure(call).finally(() => (settled = true));
    failure.catch(() => undefined);
    const pids = await hungPids(pidsFile);
    await podWorks(beside);
    expect(settled).toBe(false);
    const error = await failure;
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(await allGone(pids)).toBe(true);
    return error;
  }

  /** Removes every pod through the CRI, then finds what the daemon left on the host. */
  async function removeAllAndAudit(): Promise<string[]> {
    for (const podSandboxId of await daemon.podIds()) await daemon.stopAndRemovePod(podSandboxId);
    return hostAudit({ dirs: daemon.dirs, network: await auditNetwork(daemon.dirs), podIds, logs: [daemon.daemon.log], ignorePids: [daemon.daemon.child.pid] });
  }

  test(
    'a CNI plugin that hangs on ADD fails RunPodSandbox with DEADLINE_EXCEEDED naming it, is killed with its child, and the pod is undone while another pod runs',
    async () => {
      await writeFile(path('cni-hang'), '');
      const failure = await hangsBesideAnotherPod(runPod('hang-cni'), 'cni-hung.pids', 'beside-cni');
      expect(failure.details).toMatch(new RegExp(`^CNI plugin bridge ADD for pod [0-9a-f]{64} did not answer within ${HELPER_TIMEOUT_SECONDS} s$`));
      const failedPod = /pod ([0-9a-f]{64})/.exec(failure.details)?.[1] ?? '';
      podIds.add(failedPod);
      const listed = (await unary(daemon.client, Runtime.listPodSandbox, { filter: undefined })).items;
      expect(listed.map((pod) => pod.metadata?.name)).toEqual(['beside-cni']);

      // The name was given back: the same pod can be made once the plugin answers again.
      await rm(path('cni-hang'));
      await runPod('hang-cni');
      expect(await removeAllAndAudit()).toEqual([]);
    },
    TEST_MS,
  );

  test(
    'an OCI runtime whose create hangs fails CreateContainer with DEADLINE_EXCEEDED naming it, is killed with conmon and its child, and leaves no container',
    async () => {
      const podId = await runPod('runtime-hang', 'hang');
      await writeFile(path('runtime-hang'), 'create');
      const failure = await hangsBesideAnotherPod(daemon.createContainer(podId, 'app', ['sleep', '600']), 'runtime-hung.pids', 'beside-runtime');
      expect(failure.details).toMatch(
        new RegExp(`^OCI runtime ${path('runtime')} create of container [0-9a-f]{64} \\(run by conmon\\) did not answer within ${HELPER_TIMEOUT_SECONDS} s$`),
      );
      const containers = await unary(daemon.client, Runtime.listContainers, { filter: { podSandboxId: podId, id: '', state: undefined, labelSelector: {} } });
      expect(containers.containers).toEqual([]);
      const handlerDir = join(daemon.dirs.runroot, 'handlers', 'hang');
      expect(await readdir(join(handlerDir, 'containers')).catch(() => [])).toEqual([]);

      // The name was given back, and the runtime keeps no state of the failed one.
      await rm(path('runtime-hang'));
      const again = await daemon.createContainer(podId, 'app', ['sleep', '600']);
      await unary(daemon.client, Runtime.startContainer, { containerId: again });
      expect(await removeAllAndAudit()).toEqual([]);
    },
    TEST_MS,
  );

  test(
    'an OCI runtime whose start hangs fails StartContainer with DEADLINE_EXCEEDED naming it, is killed with its child, and the container stays created and removable',
    async () => {
      const podId = await runPod('runtime-start-hang', 'hang');
      const container = await daemon.createContainer(podId, 'app', ['sleep', '600']);
      await writeFile(path('runtime-hang'), 'start');
      const start = unary(daemon.client, Runtime.startContainer, { containerId: container });
      const failure = await hangsBesideAnotherPod(start, 'runtime-hung.pids', 'beside-start');
      expect(failure.details).toBe(`OCI runtime ${path('runtime')} start of container ${container} did not answer within ${HELPER_TIMEOUT_SECONDS} s`);
      expect((await daemon.status(container)).state).toBe(ContainerState.CONTAINER_CREATED);

      await rm(path('runtime-hang'));
      await unary(daemon.client, Runtime.removeContainer, { containerId: container });
      expect(await removeAllAndAudit()).toEqual([]);
    },
    TEST_MS,
  );

  /** Pushes an image of its own (a layer no other image has), and pulls it through a front with `faults`. */
  async function pullThroughFront(name: string, faults: FaultOptions): Promise<{ host: string; pull: Promise<unknown>; stop: () => Promise<void> }> {
    await pushImage(daemon.registryHost, `test/${name}`, 'v1', { layers: [[{ type: 'file', path: `${name}.txt`, content: `${name} ${Date.now()}\n`.repeat(4096) }]] });
    const front = await startFaultyProxy(daemon.registryHost, faults);
    // registries.conf is read afresh for each pull.
    await appendFile(join(daemon.dirs.dir, 'registries.conf'), `\n[[registry]]\nlocation = "${front.host}"\ninsecure = true\n`);
    const image = ImageSpec.fromPartial({ image: `${front.host}/test/${name}:v1` });
    return { host: front.host, pull: unary(daemon.client, Images.pullImage, { image, auth: undefined, sandboxConfig: undefined }), stop: () => front.stop() };
  }

  async function imageListed(host: string): Promise<boolean> {
    const { images } = await unary(daemon.client, Images.listImages, { filter: undefined });
    return images.some((image) => image.repoTags.some((tag) => tag.startsWith(host)));
  }

  test(
    'a registry that stalls mid-blob fails the pull with DEADLINE_EXCEEDED naming it, keeps no partial blob, and pods run meanwhile',
    async () => {
      const front = await pullThroughFront('stalled', { stallBlobs: true });
      try {
        const pull = grpcFailure(front.pull);
        await podWorks('beside-stall');
        const failure = await pull;
        expect(failure.code).toBe(Code.DEADLINE_EXCEEDED);
        expect(failure.details).toContain(`from ${front.host} made no progress for ${PROGRESS_TIMEOUT_SECONDS} s`);
        expect(await readdir(join(daemon.dirs.root, 'storage', 'ingest'))).toEqual([]);
        expect(await imageListed(front.host)).toBe(false);
      } finally {
        await front.stop();
      }
    },
    TEST_MS,
  );

  test(
    'a registry that keeps dropping the connection mid-blob fails the pull with UNAVAILABLE naming it, and keeps no partial blob',
    async () => {
      const front = await pullThroughFront('dropped', { dropBlobs: 1000 });
      try {
        const failure = await grpcFailure(front.pull);
        expect(failure.code).toBe(Code.UNAVAILABLE);
        expect(failure.details).toContain(`connection to registry ${front.host} dropped`);
        expect(await readdir(join(daemon.dirs.root, 'storage', 'ingest'))).toEqual([]);
        expect(await imageListed(front.host)).toBe(false);
        await podWorks('after-drop');
      } finally {
        await front.stop();
      }
    },
    TEST_MS,
  );
});
