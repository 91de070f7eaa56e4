// VM pods as crictl and the kubelet see them: real QEMU VMs booted under TCG (or KVM where the
// probe finds it), our agent in each, driven through the daemon's CRI socket. Each case asserts
// what a user would notice: the guest's own kernel, output and logs, the network to a runc pod
// and back, refusals, and nothing left on the host once a pod is removed.
import { status as Code } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import { ContainerState, NamespaceMode, PodSandboxState, Protocol, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { commandLine, processIds } from '../system/process-list';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { completeLines } from './support/cri-log';
import { grpcFailure } from './support/grpc-failure';
import { command, freePort, mountPoints, netnsNames, receiveFrom } from './support/net-tools';

const BOOT_MS = 180_000;
const WAIT_MS = 30_000;
const POLL_MS = 200;

// The vm handler as configured by default, plus one whose kernel is not a kernel at all.
const CONFIG = `
[runtime]
default_handler = "runc"
[runtime.handlers.runc]
type = "oci"
runtime_path = "/usr/bin/runc"
[runtime.handlers.vm]
type = "vm"
[runtime.handlers.vm-broken]
type = "vm"
kernel_path = "/etc/hostname"
`;

describe('VM pods through the CRI', () => {
  let daemon: ContainerDaemon;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.27.0/24', { config: CONFIG, gateway: true, portmap: true });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  // What a failed case left; a passing one removed its pods already.
  afterEach(() => daemon.removePods(), BOOT_MS);

  const start = (containerId: string) => unary(daemon.client, Runtime.startContainer, { containerId });
  const execSync = (containerId: string, cmd: string[], timeout = 30n) => unary(daemon.client, Runtime.execSync, { containerId, cmd, timeout });
  const logText = (pod: string, container: string) => readFile(daemon.logFile(pod, container), 'utf8').catch(() => '');
  const waitForLog = async (pod: string, container: string, text: string): Promise<string> => {
    if (!(await waitUntil(async () => (await logText(pod, container)).includes(text), WAIT_MS, POLL_MS))) {
      throw new Error(`log of ${container} never showed "${text}": ${await logText(pod, container)}`);
    }
    return logText(pod, container);
  };
  /** Processes, mounts and directories on the host that name the pod. */
  const traces = async (podId: string): Promise<string[]> => {
    const found: string[] = [];
    for (const pid of await processIds()) {
      const args = (await commandLine(pid)) ?? [];
      if (args.some((arg) => arg.includes(podId) || arg.includes(podId.slice(0, 16)))) found.push(`process ${pid}: ${args.join(' ')}`);
    }
    for (const point of await mountPoints()) if (point.includes(podId)) found.push(`mount ${point}`);
    const handlerDir = join(daemon.dirs.runroot, 'handlers', 'vm');
    for (const path of [join(handlerDir, 'pods', podId), join(handlerDir, 'sockets', `${podId.slice(0, 16)}.agent`)]) {
      if (existsSync(path)) found.push(`path ${path}`);
    }
    if ((await netnsNames()).some((name) => name.includes(podId))) found.push('netns');
    return found;
  };

  test(
    "a container runs behind the guest kernel: its output in the CRI log (also on a terminal), exec-sync, kernel modules loaded on demand, the pod's sysctls, a VM sized for the pod's limits, an OOM kill in the guest, the network to a runc pod and back and through a host port, stop and remove leave nothing",
    async () => {
      const hostPort = await freePort();
      const sysctls = { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_unprivileged_port_start': '80' };
      const vmPod = await daemon.runPod('vm-net', 'vm', { portMappings: [{ protocol: Protocol.TCP, containerPort: 8080, hostPort, hostIp: '' }], linux: { sysctls, resources: { memoryLimitInBytes: 256n << 20n } } });
      const runcPod = await daemon.runPod('runc-net', 'runc');
      const vmApp = await daemon.createContainer(vmPod, 'app', ['sh', '-c', 'echo kernel $(uname -r); echo to-stderr >&2; exec sleep 600']);
      const server = await daemon.createContainer(vmPod, 'server', ['sh', '-c', 'while true; do echo served-from-the-vm | busybox nc -l -p 8080; done']);
      const onTerminal = await daemon.createContainer(vmPod, 'tty', ['sh', '-c', '[ -t 1 ] && echo on-a-terminal; exec sleep 600'], { tty: true });
      // Doubles a string until the guest kernel's OOM killer ends it.
      const hog = await daemon.createContainer(vmPod, 'hog', ['sh', '-c', 'x=a; while true; do x=$x$x; done'], { linux: { resources: { memoryLimitInBytes: 32n << 20n } } });
      const netAdmin = await daemon.createContainer(vmPod, 'net-admin', ['sleep', '600'], { linux: { securityContext: { capabilities: { addCapabilities: ['NET_ADMIN'] } } } });
      const runcApp = await daemon.createContainer(runcPod, 'peer', ['sleep', '600']);
      await Promise.all([start(vmApp), start(server), start(onTerminal), start(hog), start(netAdmin), start(runcApp)]);

      const log = await waitForLog('vm-net', 'app', 'to-stderr');
      const guestKernel = /stdout F kernel (\S+)/.exec(log)?.[1];
      expect(guestKernel).toBeDefined();
      expect(guestKernel).not.toBe(release());
      expect(log).toMatch(/^\S+ stderr F to-stderr$/m);
      // The guest gives a tty container a terminal of its own; what it prints still reaches its log.
      const onTerminalLine = async () => completeLines(await logText('vm-net', 'tty')).some((line) => /^stdout on-a-terminal\r?$/.test(line));
      expect(await waitUntil(onTerminalLine, WAIT_MS, POLL_MS)).toBe(true);

      await daemon.waitForState(hog, ContainerState.CONTAINER_EXITED);
      expect(await daemon.status(hog)).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });

      const uname = await execSync(vmApp, ['uname', '-r']);
      expect([uname.stdout.toString().trim(), uname.exitCode]).toEqual([guestKernel, 0]);
      // The pod's files, made in the guest.
      expect((await execSync(vmApp, ['sh', '-c', 'hostname; cat /etc/hostname; grep -c localhost /etc/hosts'])).stdout.toString()).toBe('vm-net\nvm-net\n2\n');
      const seen = await execSync(vmApp, ['cat', '/proc/sys/kernel/shm_rmid_forced', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
      expect(seen.stdout.toString()).toBe('1\n80\n');
      // 512 MiB for the guest itself and the pod's 256 MiB: the kernel keeps some for itself.
      const memTotalKiB = Number(/MemTotal:\s+(\d+)/.exec((await execSync(vmApp, ['cat', '/proc/meminfo'])).stdout.toString())?.[1]);
      expect(memTotalKiB).toBeGreaterThan(640 * 1024);
      // The bridge module is not loaded at boot: the guest kernel loads it when asked.
      expect(await execSync(netAdmin, ['busybox', 'brctl', 'addbr', 'br-test'])).toMatchObject({ exitCode: 0 });
      const failing = await execSync(vmApp, ['sh', '-c', 'echo out; echo err >&2; exit 4']);
      expect([failing.stdout.toString(), failing.stderr.toString(), failing.exitCode]).toEqual(['out\n', 'err\n', 4]);

      const [vmIp, runcIp] = await Promise.all([daemon.podIp(vmPod), daemon.podIp(runcPod)]);
      // busybox-static is one of the test packages; the host may have no other ping.
      await command('busybox', ['ping', '-c', '1', '-W', '10', vmIp]);
      expect((await execSync(runcApp, ['busybox', 'ping', '-c', '1', '-W', '10', vmIp])).exitCode).toBe(0);
      expect((await execSync(vmApp, ['busybox', 'ping', '-c', '1', '-W', '10', runcIp])).exitCode).toBe(0);
      // The pod's host port, through the node's address on the pod network (the bridge's).
      const gateway = vmIp.replace(/\.\d+$/, '.1');
      expect(await waitUntil(async () => (await receiveFrom(gateway, hostPort)).toString().includes('served-from-the-vm'), WAIT_MS, POLL_MS)).toBe(true);

      // sh as the container's PID 1 ignores SIGTERM, so the stop ends in SIGKILL after the timeout.
      await unary(daemon.client, Runtime.stopContainer, { containerId: vmApp, timeout: 1n });
      expect(await daemon.status(vmApp)).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 137 });
      await unary(daemon.client, Runtime.removeContainer, { containerId: vmApp });
      for (const podSandboxId of [vmPod, runcPod]) {
        await unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId });
        await unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId });
        await unary(daemon.client, Runtime.removePodSandbox, { podSandboxId });
        await unary(daemon.client, Runtime.removePodSandbox, { podSandboxId });
      }
      expect(await traces(vmPod)).toEqual([]);
    },
    BOOT_MS,
  );

  test(
    "what a pod's containers share in the guest: kubelet emptyDirs made there (a Memory one as a tmpfs), kept across a container's restart and never written to the host; one /dev/shm; one PID namespace with a pause as its PID 1; a read-only volume stays read-only",
    async () => {
      const emptyDirs = join(daemon.dirs.dir, 'kubelet', 'pods', 'uid-vm-volumes', 'volumes', 'kubernetes.io~empty-dir');
      const [memory, disk, readOnly] = [join(emptyDirs, 'cache'), join(emptyDirs, 'scratch'), join(daemon.dirs.dir, 'read-only')];
      for (const dir of [memory, disk, readOnly]) await mkdir(dir, { recursive: true });
      await command('mount', ['-t', 'tmpfs', 'tmpfs', memory]);
      try {
        // As the kubelet says it for shareProcessNamespace: on the pod and on each container.
        const sharedPid = { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } };
        const podId = await daemon.runPod('vm-volumes', 'vm', { linux: sharedPid });
        const mounts = [
          { containerPath: '/cache', hostPath: memory },
          { containerPath: '/scratch', hostPath: disk },
          { containerPath: '/ro', hostPath: readOnly, readonly: true },
        ];
        const writer = await daemon.createContainer(podId, 'writer', ['sh', '-c', 'echo written > /cache/note; echo written > /scratch/note; echo written > /dev/shm/note; exec sleep 600'], { mounts, linux: sharedPid });
        const reader = await daemon.createContainer(podId, 'reader', ['sleep', '600'], { mounts, linux: sharedPid });
        await Promise.all([start(writer), start(reader)]);
        const read = async (): Promise<string> => (await execSync(reader, ['cat', '/cache/note', '/scratch/note', '/dev/shm/note'])).stdout.toString();
        expect(await waitUntil(async () => (await read()) === 'written\nwritten\nwritten\n', WAIT_MS, POLL_MS)).toBe(true);
        expect((await execSync(reader, ['stat', '-f', '-c', '%T', '/cache'])).stdout.toString()).toBe('tmpfs\n');
        const processes = (await execSync(reader, ['sh', '-c', 'cat /proc/1/cmdline; echo; ps'])).stdout.toString();
        expect(processes).toMatch(/^\S*pause/);
        expect(processes.split('sleep 600').length - 1).toBe(2);
        expect([await readdir(memory), await readdir(disk)]).toEqual([[], []]);
        expect((await execSync(writer, ['touch', '/ro/file'])).exitCode).not.toBe(0);
        // The kubelet restarts a container in the running VM: the VM and the pod's volumes stay.
        await unary(daemon.client, Runtime.stopContainer, { containerId: writer, timeout: 0n });
        await unary(daemon.client, Runtime.removeContainer, { containerId: writer });
        await unary(daemon.client, Runtime.removeContainer, { containerId: reader });
        const restarted = await daemon.createContainer(podId, 'writer', ['sleep', '600'], { mounts, metadata: { name: 'writer', attempt: 1 } });
        await start(restarted);
        expect((await execSync(restarted, ['cat', '/cache/note', '/scratch/note'])).stdout.toString()).toBe('written\nwritten\n');
        await unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId: podId });
        await unary(daemon.client, Runtime.removePodSandbox, { podSandboxId: podId });
        expect(await traces(podId)).toEqual([]);
      } finally {
        await command('umount', [memory]);
      }
    },
    BOOT_MS,
  );

  test(
    "a container whose limits outgrow the pod's VM gets vCPUs and memory hot-plugged, onlined in the guest, and given back when it goes",
    async () => {
      const podId = await daemon.runPod('vm-grow', 'vm');
      const observer = await daemon.createContainer(podId, 'observer', ['sleep', '600']);
      await start(observer);
      const guest = async (): Promise<{ cpus: number; memTotalMiB: number }> => {
        const text = (await execSync(observer, ['sh', '-c', 'nproc; cat /proc/meminfo'])).stdout.toString();
        return { cpus: Number(text.split('\n')[0]), memTotalMiB: Number(/MemTotal:\s+(\d+)/.exec(text)?.[1]) / 1024 };
      };
      const before = await guest();
      expect(before.cpus).toBe(1);
      // One more vCPU where the host has one to give, and 512 MiB more.
      const big = await daemon.createContainer(podId, 'big', ['sleep', '600'], { linux: { resources: { cpuPeriod: 100_000n, cpuQuota: 100_000n, memoryLimitInBytes: 512n << 20n } } });
      await start(big);
      const grown = await guest();
      expect(grown.cpus).toBe(Math.min(2, availableParallelism()));
      expect(grown.memTotalMiB).toBeGreaterThan(before.memTotalMiB + 500);
      await unary(daemon.client, Runtime.stopContainer, { containerId: big, timeout: 0n });
      await unary(daemon.client, Runtime.removeContainer, { containerId: big });
      // RemoveContainer answers before the container is taken apart; its share follows it out.
      const givenBack = async (): Promise<boolean> => {
        const after = await guest();
        return after.cpus === 1 && after.memTotalMiB < before.memTotalMiB + 10;
      };
      expect(await waitUntil(givenBack, WAIT_MS, POLL_MS)).toBe(true);
      await unary(daemon.client, Runtime.stopPodSandbox, { podSandboxId: podId });
      await unary(daemon.client, Runtime.removePodSandbox, { podSandboxId: podId });
      expect(await traces(podId)).toEqual([]);
    },
    BOOT_MS,
  );

  test(
    'a running VM pod survives a daemon restart: still ready, its container still answers and still logs',
    async () => {
      const podId = await daemon.runPod('vm-restart', 'vm');
      const app = await daemon.createContainer(podId, 'ticker', ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done']);
      await start(app);
      await waitForLog('vm-restart', 'ticker', 'tick-2');
      // Down for a few ticks: what the container wrote meanwhile must reach its log all the same.
      await daemon.restart(3000, 'SIGKILL');
      const { status } = await unary(daemon.client, Runtime.podSandboxStatus, { podSandboxId: podId, verbose: false });
      expect(status?.state).toBe(PodSandboxState.SANDBOX_READY);
      expect((await execSync(app, ['echo', 'still here'])).stdout.toString()).toBe('still here\n');
      const before = (await logText('vm-restart', 'ticker')).length;
      expect(await waitUntil(async () => (await logText('vm-restart', 'ticker')).length > before, WAIT_MS, POLL_MS)).toBe(true);
      const ticks = [...(await logText('vm-restart', 'ticker')).matchAll(/stdout F tick-(\d+)$/gm)].map((match) => Number(match[1]));
      expect(ticks.length).toBeGreaterThan(5);
      expect(ticks).toEqual(ticks.map((_tick, index) => index + 1));
      await unary(daemon.client, Runtime.removePodSandbox, { podSandboxId: podId });
      expect(await traces(podId)).toEqual([]);
    },
    BOOT_MS,
  );

  test(
    'an agent that stops answering fails its calls with DeadlineExceeded naming it, and its pod reads NOTREADY; stop and remove still leave nothing',
    async () => {
      const podId = await daemon.runPod('vm-hung', 'vm');
      const app = await daemon.createContainer(podId, 'app', ['sleep', '600']);
      await start(app);
      const { info } = await unary(daemon.client, Runtime.podSandboxStatus, { podSandboxId: podId, verbose: true });
      const qemuPid = (JSON.parse(info.info ?? '{}') as { handlerState: { qemu: { pid: number } } }).handlerState.qemu.pid;
      // A frozen VM: its agent takes nothing and answers nothing.
      process.kill(qemuPid, 'SIGSTOP');
      const hung = await grpcFailure(unary(daemon.client, Runtime.execSync, { containerId: app, cmd: ['true'], timeout: 5n }, 60_000));
      expect(hung.code).toBe(Code.DEADLINE_EXCEEDED);
      expect(hung.details).toMatch(/guest agent .* did not answer/);
      const { status } = await unary(daemon.client, Runtime.podSandboxStatus, { podSandboxId: podId, verbose: false });
      expect(status?.state).toBe(PodSandboxState.SANDBOX_NOTREADY);
      await daemon.stopAndRemovePod(podId, 60_000);
      expect(await traces(podId)).toEqual([]);
    },
    BOOT_MS,
  );

  test('host namespaces a VM cannot share are refused with InvalidArgument naming the option, leaving nothing', async () => {
    const before = await netnsNames();
    for (const [option, field] of [
      ['hostNetwork', 'network'],
      ['hostPID', 'pid'],
      ['hostIPC', 'ipc'],
    ] as const) {
      const failure = await grpcFailure(
        daemon.runPod(`vm-${field}`, 'vm', { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD, [field]: NamespaceMode.NODE } } } }),
      );
      expect(failure.code).toBe(Code.INVALID_ARGUMENT);
      expect(failure.details).toContain(option);
    }
    expect(await netnsNames()).toEqual(before);
    expect((await unary(daemon.client, Runtime.listPodSandbox, { filter: undefined })).items).toEqual([]);
  });

  test(
    'a VM that cannot boot fails its pod with what QEMU said, and leaves nothing',
    async () => {
      const failure = await grpcFailure(daemon.runPod('vm-broken', 'vm-broken'));
      expect(failure.details).toMatch(/VM of pod [0-9a-f]{64}.*QEMU said: .*kernel/);
      expect((await unary(daemon.client, Runtime.listPodSandbox, { filter: undefined })).items).toEqual([]);
      // Its own traces only (its netns among them): suites beside it make and remove theirs.
      const podId = /pod ([0-9a-f]{64})/.exec(failure.details)?.[1] ?? '';
      expect(await traces(podId)).toEqual([]);
    },
    BOOT_MS,
  );
});
