// A fuzz test over the CRI requests' fields, through the daemon's socket: valid requests of
// most verbs (RunPodSandbox, CreateContainer in a runc and a VM pod, UpdateContainerResources,
// ExecSync, the status, list and image verbs...) mutated field by field, one after another for a
// bounded time. Every answer must be OK or a code that says what is wrong, never INTERNAL or
// UNKNOWN and never no answer; the daemon must live and serve afterwards; once everything made
// is removed nothing may be left on the host, and nothing may ever appear where '..' leads.
// The seed is printed: CRI_FUZZ_SEED=<seed> replays a run, CRI_FUZZ_MS sets how long it lasts.
import { status as Code } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ContainerConfig,
  ContainerState,
  ImageServiceService as Images,
  ImageSpec,
  LinuxContainerResources,
  NamespaceMode,
  PodSandboxConfig,
  Protocol,
  RuntimeServiceService as Runtime,
} from '../proto/gen/cri-api-v1';
import { unary, type MethodDefinition } from '../testbed/cri-client';
import { ContainerDaemon } from './support/container-daemon';
import { auditNetwork, hostAudit, type AuditNetwork } from './support/host-audit';
import { unaryBytes, withInvalidUtf8 } from './support/raw-request';
import { RequestFuzzer, seededRandom } from './support/request-fuzzer';

const SUBNET = '10.219.42.0/24';
const FUZZ_MS = Number(process.env.CRI_FUZZ_MS ?? 25_000);
const SEED = Number(process.env.CRI_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
// A call that takes this long hangs; it is no statement about speed.
const CALL_DEADLINE_MS = 60_000;
const LONG_MS = 300_000;
const MIB = 1024n * 1024n;
// What a request may be answered with besides OK: each says what is wrong with it or with the
// state of what it names. INTERNAL, UNKNOWN, and DEADLINE_EXCEEDED or UNAVAILABLE (no answer,
// or none that reached the client) are findings.
const ACCEPTED = new Set(['OK', 'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'RESOURCE_EXHAUSTED']);

interface Target {
  name: string;
  weight: number;
  method: MethodDefinition<never, unknown>;
  base: () => unknown;
  /** Fields never changed: a pull of another image would go to a registry on the internet. */
  kept?: string[];
  /** What to do with what an OK answer made, so nothing is left; its answers are judged too. */
  cleanUp?: (response: unknown) => Promise<void>;
  /** Whether an answer outside ACCEPTED is still the right one for this request. */
  alsoRight?: (request: unknown, code: string, details: string) => boolean;
}

// A fuzzed UpdateContainerResources may leave the target 1 ms of CPU in 100 ms; a command run in
// it then outlasts a short timeout of its own, and CRI answers that with DEADLINE_EXCEEDED (the
// kubelet's exec probes count on it). The daemon's answer names the request's own timeout, which
// a call that hung up to the client's deadline would not.
function ownExecTimeout(request: unknown, code: string, details: string): boolean {
  const { timeout } = request as { timeout: bigint };
  return code === 'DEADLINE_EXCEEDED' && timeout > 0n && details.endsWith(`did not finish within ${timeout * 1000n} ms`);
}

describe('CRI requests fuzzed field by field', () => {
  let daemon: ContainerDaemon;
  let network: AuditNetwork;
  let escapeTarget: string;
  let allowedPath: string;
  let runcPod: string;
  let vmPod: string;
  let target: string;

  beforeAll(async () => {
    console.log(`cri-fuzz: seed ${SEED} for ${FUZZ_MS} ms (CRI_FUZZ_SEED=${SEED} replays it)`);
    daemon = await ContainerDaemon.start(SUBNET);
    network = await auditNetwork(daemon.dirs);
    escapeTarget = join(daemon.dirs.dir, `escaped-${SEED}`);
    allowedPath = join(daemon.dirs.dir, 'host-paths');
    await mkdir(allowedPath);
    runcPod = await daemon.runPod('fuzz-runc', 'runc');
    vmPod = await daemon.runPod('fuzz-vm', 'vm');
    target = await daemon.createContainer(runcPod, 'target', ['sleep', '3600'], { linux: { resources: { memoryLimitInBytes: 64n * MIB, cpuShares: 512n } } });
    await unary(daemon.client, Runtime.startContainer, { containerId: target });
  }, LONG_MS);

  afterAll(() => daemon?.close(), LONG_MS);

  /** The answer's code name; undefined when the request cannot be encoded (the test skips it). */
  async function send(method: MethodDefinition<never, unknown>, request: unknown, markers: string[]): Promise<{ code: string; details: string; response?: unknown } | undefined> {
    let bytes: Buffer;
    try {
      bytes = method.requestSerialize(request as never);
    } catch {
      return undefined;
    }
    for (const marker of markers) bytes = withInvalidUtf8(bytes, marker);
    return unaryBytes(daemon.client, method, bytes, CALL_DEADLINE_MS).then(
      (response) => ({ code: 'OK', details: '', response }),
      (error: { code?: number; details?: string }) => ({ code: Code[error.code ?? Code.UNKNOWN] ?? String(error.code), details: error.details ?? '' }),
    );
  }

  let podCount = 0;
  let containerCount = 0;
  const wrong: string[] = [];
  const judge = (what: string, code: string, details: string, alsoRight = false): void => {
    if (!ACCEPTED.has(code) && !alsoRight) wrong.push(`${what}: ${code} ${details.slice(0, 400)}`);
  };
  const answered = async (what: string, call: Promise<unknown>): Promise<void> => {
    await call.then(
      () => undefined,
      (error: { code?: number; details?: string }) => judge(what, Code[error.code ?? Code.UNKNOWN], error.details ?? ''),
    );
  };
  const removeContainer = async (containerId: string): Promise<void> => {
    await answered('StopContainer of a fuzzed container', unary(daemon.client, Runtime.stopContainer, { containerId, timeout: 0n }, CALL_DEADLINE_MS));
    await answered('RemoveContainer of a fuzzed container', unary(daemon.client, Runtime.removeContainer, { containerId }, CALL_DEADLINE_MS));
  };
  const startAndRemove = async (response: unknown): Promise<void> => {
    const { containerId } = response as { containerId: string };
    await answered('StartContainer of a fuzzed container', unary(daemon.client, Runtime.startContainer, { containerId }, CALL_DEADLINE_MS));
    await removeContainer(containerId);
  };

  const podBase = (): PodSandboxConfig => {
    podCount += 1;
    const name = `fuzz-pod-${podCount}`;
    return PodSandboxConfig.fromPartial({
      metadata: { name, namespace: 'fuzz', uid: `uid-${name}`, attempt: 0 },
      hostname: name,
      logDirectory: join(daemon.dirs.dir, 'logs', name),
      dnsConfig: { servers: ['10.96.0.10'], searches: ['fuzz.svc.cluster.local'], options: ['ndots:5'] },
      portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort: 0, hostIp: '' }],
      labels: { app: 'fuzz' },
      annotations: { 'example.com/note': 'fuzz' },
      linux: {
        cgroupParent: '',
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
        securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } },
        resources: { cpuPeriod: 100_000n, cpuQuota: 50_000n, memoryLimitInBytes: 64n * MIB },
      },
    });
  };
  const containerBase = (): ContainerConfig => {
    containerCount += 1;
    const name = `fuzz-${containerCount}`;
    return ContainerConfig.fromPartial({
      metadata: { name, attempt: 0 },
      image: { image: daemon.image },
      command: ['sleep', '60'],
      args: [],
      workingDir: '/',
      envs: [{ key: 'FUZZ', value: Buffer.from('1') }],
      mounts: [{ containerPath: '/data', hostPath: join(allowedPath, name), readonly: false }],
      devices: [{ containerPath: '/dev/fuzz-null', hostPath: '/dev/null', permissions: 'rw' }],
      labels: { app: 'fuzz' },
      annotations: { 'example.com/note': 'fuzz' },
      logPath: `${name}/0.log`,
      linux: {
        resources: { cpuShares: 256n, memoryLimitInBytes: 32n * MIB, oomScoreAdj: 500n, cpusetCpus: '0' },
        securityContext: { runAsUser: { value: 0n }, supplementalGroups: [1n], capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: [], addAmbientCapabilities: [] } },
      },
    });
  };

  const targets = (): Target[] => [
    {
      name: 'RunPodSandbox',
      weight: 4,
      method: Runtime.runPodSandbox as MethodDefinition<never, unknown>,
      base: () => ({ config: podBase(), runtimeHandler: 'runc' }),
      cleanUp: async (response) => {
        const { podSandboxId } = response as { podSandboxId: string };
        await answered('StopPodSandbox of a fuzzed pod', unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId }, CALL_DEADLINE_MS));
        await answered('RemovePodSandbox of a fuzzed pod', unary(daemon.client, Runtime.removePodSandbox, { podSandboxId }, CALL_DEADLINE_MS));
      },
    },
    { name: 'CreateContainer (runc)', weight: 4, method: Runtime.createContainer as MethodDefinition<never, unknown>, base: () => ({ podSandboxId: runcPod, config: containerBase() }), cleanUp: startAndRemove },
    { name: 'CreateContainer (vm)', weight: 1, method: Runtime.createContainer as MethodDefinition<never, unknown>, base: () => ({ podSandboxId: vmPod, config: containerBase() }), cleanUp: startAndRemove },
    {
      name: 'UpdateContainerResources',
      weight: 2,
      method: Runtime.updateContainerResources as MethodDefinition<never, unknown>,
      base: () => ({ containerId: target, linux: LinuxContainerResources.fromPartial({ cpuShares: 512n, memoryLimitInBytes: 64n * MIB, cpuPeriod: 100_000n, cpuQuota: 100_000n }), annotations: { a: 'b' } }),
    },
    {
      name: 'ExecSync',
      weight: 2,
      method: Runtime.execSync as MethodDefinition<never, unknown>,
      base: () => ({ containerId: target, cmd: ['echo', 'fuzz'], timeout: 10n }),
      alsoRight: ownExecTimeout,
    },
    { name: 'Exec', weight: 1, method: Runtime.exec as MethodDefinition<never, unknown>, base: () => ({ containerId: target, cmd: ['sh'], tty: false, stdin: true, stdout: true, stderr: true }) },
    { name: 'PortForward', weight: 1, method: Runtime.portForward as MethodDefinition<never, unknown>, base: () => ({ podSandboxId: runcPod, port: [80] }) },
    { name: 'StopContainer', weight: 1, method: Runtime.stopContainer as MethodDefinition<never, unknown>, base: () => ({ containerId: 'f'.repeat(64), timeout: 5n }) },
    { name: 'PodSandboxStatus', weight: 1, method: Runtime.podSandboxStatus as MethodDefinition<never, unknown>, base: () => ({ podSandboxId: runcPod, verbose: true }) },
    { name: 'ContainerStatus', weight: 1, method: Runtime.containerStatus as MethodDefinition<never, unknown>, base: () => ({ containerId: target, verbose: true }) },
    { name: 'ContainerStats', weight: 1, method: Runtime.containerStats as MethodDefinition<never, unknown>, base: () => ({ containerId: target }) },
    { name: 'ReopenContainerLog', weight: 1, method: Runtime.reopenContainerLog as MethodDefinition<never, unknown>, base: () => ({ containerId: target }) },
    {
      name: 'ListContainers',
      weight: 1,
      method: Runtime.listContainers as MethodDefinition<never, unknown>,
      base: () => ({ filter: { id: target.slice(0, 12), state: { state: ContainerState.CONTAINER_RUNNING }, podSandboxId: runcPod, labelSelector: { app: 'fuzz' } } }),
    },
    { name: 'ListPodSandbox', weight: 1, method: Runtime.listPodSandbox as MethodDefinition<never, unknown>, base: () => ({ filter: { id: runcPod, state: undefined, labelSelector: { app: 'fuzz' } } }) },
    { name: 'ImageStatus', weight: 1, method: Images.imageStatus as MethodDefinition<never, unknown>, base: () => ({ image: ImageSpec.fromPartial({ image: daemon.image, annotations: { a: 'b' } }), verbose: true }) },
    {
      name: 'PullImage',
      weight: 1,
      method: Images.pullImage as MethodDefinition<never, unknown>,
      base: () => ({ image: ImageSpec.fromPartial({ image: daemon.image }), auth: { username: 'user', password: 'secret' } }),
      kept: ['image.image'],
    },
  ];

  test(
    `for ${FUZZ_MS} ms every answer is OK or says what is wrong, the daemon serves afterwards, and nothing is left once everything is removed`,
    async () => {
      const random = seededRandom(SEED);
      const fuzzer = new RequestFuzzer(random, { escapeTarget, allowedPath });
      const choices = targets().flatMap((entry) => Array.from({ length: entry.weight }, () => entry));
      const deadline = Date.now() + FUZZ_MS;
      let sent = 0;
      while (Date.now() < deadline) {
        const chosen = choices[Math.floor(random() * choices.length)];
        const { request, changes, invalidUtf8Markers } = fuzzer.mutate(chosen.base(), chosen.kept);
        const answer = await send(chosen.method, request, invalidUtf8Markers);
        if (answer === undefined) continue;
        sent += 1;
        judge(`${chosen.name} with ${changes.join(', ')}`, answer.code, answer.details, chosen.alsoRight?.(request, answer.code, answer.details));
        if (answer.response !== undefined) await chosen.cleanUp?.(answer.response);
      }
      console.log(`cri-fuzz: seed ${SEED}: ${sent} requests sent`);

      expect({ seed: SEED, wrong }).toEqual({ seed: SEED, wrong: [] });
      expect([daemon.daemon.child.exitCode, daemon.daemon.child.signalCode]).toEqual([null, null]);
      await unary(daemon.client, Runtime.version, { version: '' });
      await unary(daemon.client, Runtime.status, { verbose: false });

      await daemon.stopAndRemovePod(runcPod, CALL_DEADLINE_MS);
      await daemon.stopAndRemovePod(vmPod, CALL_DEADLINE_MS);
      expect(await daemon.podIds()).toEqual([]);
      expect((await unary(daemon.client, Runtime.listContainers, { filter: undefined })).containers).toEqual([]);
      expect(await hostAudit({ dirs: daemon.dirs, network, logs: [daemon.daemon.log], ignorePids: [daemon.daemon.child.pid] })).toEqual([]);
      expect(existsSync(escapeTarget)).toBe(false);
    },
    FUZZ_MS + LONG_MS,
  );
});
