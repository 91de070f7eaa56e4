// The defaults workloads moved from containerd or CRI-O rely on, through the CRI socket: ports
// below 1024 and ICMP echo sockets open to any user in a pod's network (each switchable in the
// config), the host's devices in a privileged container, the CRI's zero value for the PID
// namespace, and nothing left running when a container in the host's PID namespace exits.
import { ContainerState, NamespaceMode, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { commandLine, processIds } from '../system/process-list';
import { waitUntil } from '../system/wait-until';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon, type PodOptions } from './support/container-daemon';

const BOOT_MS = 180_000;
const WAIT_MS = 30_000;
const POLL_MS = 200;

const PORT_START = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
const PING_RANGE = '/proc/sys/net/ipv4/ping_group_range';
// Listens on port 80 for a second: killed by timeout (143) once bound, 1 when the bind is refused.
const BIND_PORT_80 = ['busybox', 'timeout', '1', 'busybox', 'nc', '-l', '-p', '80'];
const AS_USER = { linux: { securityContext: { runAsUser: { value: 1000n } } } };
const PRIVILEGED_POD: PodOptions = { linux: { securityContext: { privileged: true } } };
const PRIVILEGED = { linux: { securityContext: { privileged: true } } };

function helpers(daemon: () => ContainerDaemon) {
  const start = (containerId: string) => unary(daemon().client, Runtime.startContainer, { containerId });
  const execSync = async (containerId: string, cmd: string[]) => {
    const result = await unary(daemon().client, Runtime.execSync, { containerId, cmd, timeout: 30n });
    return { out: result.stdout.toString(), exitCode: result.exitCode };
  };
  /** A started container running `command` (sleep by default). */
  const running = async (podId: string, name: string, extra: Parameters<ContainerDaemon['createContainer']>[3] = {}, command = ['sleep', '600']) => {
    const id = await daemon().createContainer(podId, name, command, extra);
    await start(id);
    return id;
  };
  return { start, execSync, running };
}

describe('workload defaults (default config)', () => {
  let daemon: ContainerDaemon;
  const { execSync, running } = helpers(() => daemon);

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.66.0/24');
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  test("any user binds port 80 and may open ICMP echo sockets in a pod's network; a pod's own sysctl wins", async () => {
    const podId = await daemon.runPod('unprivileged-net', '');
    const user = await running(podId, 'user', AS_USER);
    expect(await execSync(user, ['cat', PORT_START, PING_RANGE])).toEqual({ out: '0\n0\t2147483647\n', exitCode: 0 });
    expect((await execSync(user, BIND_PORT_80)).exitCode).toBe(143);

    const ownPod = await daemon.runPod('own-sysctl', '', { linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024' } } });
    const restricted = await running(ownPod, 'user', AS_USER);
    expect(await execSync(restricted, ['cat', PORT_START, PING_RANGE])).toEqual({ out: '1024\n0\t2147483647\n', exitCode: 0 });
    expect((await execSync(restricted, BIND_PORT_80)).exitCode).toBe(1);
    await daemon.stopAndRemovePod(podId);
    await daemon.stopAndRemovePod(ownPod);
  }, 60_000);

  test("a privileged container finds the host's device nodes in its /dev; an unprivileged one does not", async () => {
    const podId = await daemon.runPod('privileged', '', PRIVILEGED_POD);
    const privileged = await running(podId, 'privileged', PRIVILEGED);
    const plain = await running(podId, 'plain');
    // /dev/net/tun is on the host but not among the few nodes runc gives every container.
    expect((await execSync(privileged, ['test', '-c', '/dev/net/tun'])).exitCode).toBe(0);
    expect((await execSync(plain, ['test', '-e', '/dev/net/tun'])).exitCode).toBe(1);
    await daemon.stopAndRemovePod(podId);
  }, 60_000);

  test("a container that names no PID namespace mode shares the pod's (the CRI's zero value, POD)", async () => {
    const podId = await daemon.runPod('shared-pid', '', { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.POD, ipc: NamespaceMode.POD } } } });
    await running(podId, 'first', {}, ['sleep', '4711']);
    const second = await running(podId, 'second');
    expect((await execSync(second, ['ps', '-o', 'args'])).out).toContain('sleep 4711');
    await daemon.stopAndRemovePod(podId);
  }, 60_000);

  test('when a container in the host PID namespace exits, what it started is killed with it', async () => {
    const hostPid = { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.NODE, ipc: NamespaceMode.POD } } } };
    const podId = await daemon.runPod('host-pid', '', hostPid);
    // The child is found on the host by its unusual argument.
    const marker = String(90_000 + Math.floor(Math.random() * 9_999));
    const isChild = async (pid: number) => (await commandLine(pid))?.join(' ') === `sleep ${marker}`;
    const childRuns = async () => (await Promise.all((await processIds()).map(isChild))).includes(true);
    const id = await running(podId, 'parent', hostPid, ['sh', '-c', `sleep ${marker} & sleep 1; exit 0`]);
    await daemon.waitForState(id, ContainerState.CONTAINER_EXITED);
    expect(await waitUntil(async () => !(await childRuns()), WAIT_MS, POLL_MS)).toBe(true);
    await daemon.stopAndRemovePod(podId);
  }, 90_000);

  test("a VM pod's guest: ports and ICMP open to any user, and the guest's devices in a privileged container", async () => {
    const podId = await daemon.runPod('vm-defaults', 'vm', PRIVILEGED_POD);
    const user = await running(podId, 'user', AS_USER);
    const privileged = await running(podId, 'privileged', PRIVILEGED);
    expect(await execSync(user, ['cat', PORT_START, PING_RANGE])).toEqual({ out: '0\n0\t2147483647\n', exitCode: 0 });
    expect((await execSync(user, BIND_PORT_80)).exitCode).toBe(143);
    // The guest's root disk, a virtio block device of the guest's that the host does not have.
    const guestDisks = (await execSync(privileged, ['sh', '-c', 'ls /sys/block | grep ^vd'])).out.trim().split('\n');
    expect(guestDisks.length).toBeGreaterThan(0);
    expect((await execSync(privileged, ['test', '-b', `/dev/${guestDisks[0]}`])).exitCode).toBe(0);
    expect((await execSync(user, ['test', '-e', `/dev/${guestDisks[0]}`])).exitCode).toBe(1);
    await daemon.stopAndRemovePod(podId);
  }, BOOT_MS);
});

describe('workload defaults switched off in the config', () => {
  let daemon: ContainerDaemon;
  const { execSync, running } = helpers(() => daemon);

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.67.0/24', { config: '[pod]\nunprivileged_ports = false\nunprivileged_icmp = false\n' });
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  test("a pod's network keeps the kernel's defaults: port 80 is root's, ICMP sockets no one's", async () => {
    const podId = await daemon.runPod('kernel-defaults', '');
    const user = await running(podId, 'user', AS_USER);
    expect(await execSync(user, ['cat', PORT_START, PING_RANGE])).toEqual({ out: '1024\n1\t0\n', exitCode: 0 });
    expect((await execSync(user, BIND_PORT_80)).exitCode).toBe(1);
    await daemon.stopAndRemovePod(podId);
  }, 60_000);
});
