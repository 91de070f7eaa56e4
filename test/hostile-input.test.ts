// Hostile input on the CRI surface, sent through the daemon's socket: oversized strings and
// maps, paths that climb out with '..' or through a symbolic link, invalid UTF-8, NULs, absurd
// resource values. Each is refused with INVALID_ARGUMENT naming the field, before anything is
// made: the host looks the same afterwards, the name is free again and the daemon still serves.
// For runc pods and, where the path differs (the VM's size, its shared directory), VM pods.
import { status as Code } from '@grpc/grpc-js';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import {
  ContainerConfig,
  ContainerState,
  ImageServiceService as Images,
  ImageSpec,
  LinuxContainerResources,
  MountPropagation,
  PodSandboxConfig,
  type Protocol,
  RuntimeServiceService as Runtime,
} from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { ContainerDaemon, type ContainerOptions, type PodOptions } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';
import { auditNetwork, describeLeftover, findLeftovers, type AuditNetwork } from './support/host-audit';
import { unaryBytes, withInvalidUtf8 } from './support/raw-request';

const SUBNET = '10.219.41.0/24';
// Room for a loaded machine; a VM pod's first boot also builds the template VM.
const VM_MS = 300_000;
const LONG_MS = 120_000;
// Cut short, a 10 MB value echoed in an answer would still fit; whole, it would break the call.
const MAX_DETAILS_CHARS = 4096 + 100;
const MIB = 1024n * 1024n;
const MARKER = 'MARKER-NOT-UTF8';

interface HostileCase {
  what: string;
  call: () => Promise<unknown>;
  /** What the answer's message must say: the field, and what is wrong with it. */
  field: RegExp;
}

describe('hostile input through the CRI socket', () => {
  let daemon: ContainerDaemon;
  let network: AuditNetwork;
  let basePod: string;
  // Where a path that escapes its directory would land; it must stay empty.
  let outside: string;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start(SUBNET);
    network = await auditNetwork(daemon.dirs);
    basePod = await daemon.runPod('base', 'runc');
    // runc makes the rest of the pod's cgroup at its first container: made here, so a refused
    // container that got as far as runc changes nothing on the host.
    const first = await daemon.createContainer(basePod, 'first', ['true']);
    await unary(daemon.client, Runtime.removeContainer, { containerId: first });
    outside = join(daemon.dirs.dir, 'outside');
    await mkdir(outside);
  }, LONG_MS);

  afterAll(() => daemon?.close(), LONG_MS);

  /**
   * What of the daemon is on the host, one line each: it must be the same after a refusal. A
   * process is named by its pid alone: a container just started may still be runc's init.
   * Containers removed earlier are taken apart first, as that goes on after RemoveContainer.
   */
  const hostState = async (): Promise<string[]> => {
    await daemon.removalsDone();
    return (await findLeftovers({ dirs: daemon.dirs, network, logs: [daemon.daemon.log], ignorePids: [daemon.daemon.child.pid] }))
      .map((leftover) => (leftover.kind === 'process' ? `process ${leftover.handles[0]}` : describeLeftover(leftover)))
      .sort();
  };

  const podConfig = (extra: PodOptions = {}): PodSandboxConfig =>
    PodSandboxConfig.fromPartial({ metadata: { name: 'victim', namespace: 'hostile', uid: 'uid-victim' }, hostname: 'victim', logDirectory: join(daemon.dirs.dir, 'logs', 'victim'), ...extra });
  const runPod = (config: PodSandboxConfig, runtimeHandler = 'runc') => unary(daemon.client, Runtime.runPodSandbox, { config, runtimeHandler }, VM_MS);
  const containerConfig = (extra: ContainerOptions = {}): ContainerConfig =>
    ContainerConfig.fromPartial({ metadata: { name: 'victim' }, image: { image: daemon.image }, command: ['sleep', '600'], logPath: 'victim.log', ...extra });
  const createIn = (podSandboxId: string, config: ContainerConfig) => unary(daemon.client, Runtime.createContainer, { podSandboxId, config, sandboxConfig: undefined }, VM_MS);
  const resources = (values: Partial<LinuxContainerResources>): ContainerOptions => ({ linux: { resources: values } });
  const containerIds = async (podSandboxId: string): Promise<string[]> =>
    (await unary(daemon.client, Runtime.listContainers, { filter: { id: '', state: undefined, podSandboxId, labelSelector: {} } })).containers.map((container) => container.id);

  /** Every case's answer that is not INVALID_ARGUMENT with a message matching its field, one line each. */
  async function wrongAnswers(cases: HostileCase[]): Promise<string[]> {
    const wrong: string[] = [];
    for (const { what, call, field } of cases) {
      const answer = await call().then(
        () => ({ code: 'OK', details: '' }),
        (error: { code?: number; details?: string }) => ({ code: Code[error.code ?? Code.UNKNOWN], details: error.details ?? '' }),
      );
      if (answer.code !== 'INVALID_ARGUMENT' || !field.test(answer.details)) wrong.push(`${what}: ${answer.code} ${answer.details.slice(0, 300)}`);
    }
    return wrong;
  }

  /** The cases all refused, the host as it was before them, and the daemon still serving. */
  async function expectAllRefused(cases: HostileCase[]): Promise<void> {
    const before = await hostState();
    expect(await wrongAnswers(cases)).toEqual([]);
    expect(await hostState()).toEqual(before);
    expect(await readdir(outside)).toEqual([]);
    await unary(daemon.client, Runtime.version, { version: '' });
  }

  test(
    'RunPodSandbox refuses oversized names and maps, bad paths, invalid UTF-8, NULs, bad ports and DNS and absurd resources, leaving nothing; the same pod runs afterwards',
    async () => {
      const metadata = { name: 'victim', namespace: 'hostile', uid: 'uid-victim' };
      const bigAnnotations = Object.fromEntries(Array.from({ length: 160 }, (_, index) => [`note-${index}`, 'x'.repeat(4096)]));
      const invalidUtf8 = withInvalidUtf8(Runtime.runPodSandbox.requestSerialize({ config: podConfig({ metadata: { ...metadata, namespace: MARKER } }), runtimeHandler: 'runc' }), MARKER);
      const cases: HostileCase[] = [
        { what: 'a name of 300 bytes', call: () => runPod(podConfig({ metadata: { ...metadata, name: 'n'.repeat(300) } })), field: /config\.metadata\.name is longer than 253 bytes/ },
        { what: 'a name of 10 MB', call: () => runPod(podConfig({ metadata: { ...metadata, name: 'n'.repeat(10_000_000) } })), field: /config\.metadata\.name is longer than 128 KiB/ },
        { what: "a name with '/'", call: () => runPod(podConfig({ metadata: { ...metadata, name: '../victim' } })), field: /config\.metadata\.name "\.\.\/victim" contains '\/'/ },
        { what: "a namespace with ';'", call: () => runPod(podConfig({ metadata: { ...metadata, namespace: 'a;IP=10.0.0.9' } })), field: /config\.metadata\.namespace/ },
        { what: 'a UID with a line break', call: () => runPod(podConfig({ metadata: { ...metadata, uid: 'uid\nvictim' } })), field: /config\.metadata\.uid/ },
        { what: 'a namespace that is not UTF-8', call: () => unaryBytes(daemon.client, Runtime.runPodSandbox, invalidUtf8), field: /config\.metadata\.namespace is not valid UTF-8/ },
        { what: 'bytes that are no message', call: () => unaryBytes(daemon.client, Runtime.runPodSandbox, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), field: /not a valid protobuf message/ },
        { what: 'a hostname of 100 characters', call: () => runPod(podConfig({ hostname: 'h'.repeat(100) })), field: /config\.hostname/ },
        { what: 'a hostname with a NUL', call: () => runPod(podConfig({ hostname: 'victim\0' })), field: /config\.hostname contains a NUL byte/ },
        { what: 'a relative log directory', call: () => runPod(podConfig({ logDirectory: 'logs/victim' })), field: /config\.log_directory "logs\/victim" is not an absolute path/ },
        { what: "a log directory with '..'", call: () => runPod(podConfig({ logDirectory: `${daemon.dirs.dir}/logs/../../victim` })), field: /config\.log_directory .* contains '\.\.'/ },
        { what: 'annotations of 640 KiB', call: () => runPod(podConfig({ annotations: bigAnnotations })), field: /config\.annotations holds more than 512 KiB/ },
        { what: 'a label key with a NUL', call: () => runPod(podConfig({ labels: { 'app\0': 'x' } })), field: /config\.labels\["app\\u0000"\] \(the key\) contains a NUL byte/ },
        { what: 'a DNS server that is two lines', call: () => runPod(podConfig({ dnsConfig: { servers: ['1.1.1.1\nnameserver 6.6.6.6'] } })), field: /DNS server "1\.1\.1\.1\nnameserver 6\.6\.6\.6" is not an IP address/ },
        { what: 'a DNS option with a space', call: () => runPod(podConfig({ dnsConfig: { options: ['ndots:1 rotate'] } })), field: /DNS option/ },
        { what: 'a host IP that is no address', call: () => runPod(podConfig({ portMappings: [{ protocol: 0, containerPort: 80, hostPort: 8080, hostIp: 'not-an-ip' }] })), field: /config\.port_mappings\[0\]\.host_ip/ },
        { what: 'a host port of 70000', call: () => runPod(podConfig({ portMappings: [{ protocol: 0, containerPort: 80, hostPort: 70000, hostIp: '' }] })), field: /config\.port_mappings\[0\]\.host_port 70000/ },
        { what: 'a negative container port', call: () => runPod(podConfig({ portMappings: [{ protocol: 0, containerPort: -80, hostPort: 0, hostIp: '' }] })), field: /config\.port_mappings\[0\]\.container_port -80/ },
        { what: 'an unknown protocol', call: () => runPod(podConfig({ portMappings: [{ protocol: 9 as Protocol, containerPort: 80, hostPort: 0, hostIp: '' }] })), field: /config\.port_mappings\[0\]\.protocol 9/ },
        { what: 'a sysctl climbing out of /proc/sys', call: () => runPod(podConfig({ linux: { sysctls: { 'net/../../../kernel/x': '1' } } })), field: /sysctl "net\/\.\.\/\.\.\/\.\.\/kernel\/x"/ },
        { what: 'a cgroup parent climbing out', call: () => runPod(podConfig({ linux: { cgroupParent: '../../../etc' } })), field: /config\.linux\.cgroup_parent "\.\.\/\.\.\/\.\.\/etc" contains '\.\.'/ },
        { what: 'a cgroup parent with a line break', call: () => runPod(podConfig({ linux: { cgroupParent: 'pods\nx' } })), field: /config\.linux\.cgroup_parent "pods\\nx" contains a control character/ },
        { what: 'an overhead of 2^63 - 1 bytes', call: () => runPod(podConfig({ linux: { overhead: { memoryLimitInBytes: 2n ** 63n - 1n } } })), field: /config\.linux\.overhead\.memory_limit_in_bytes/ },
        { what: 'a CPU period of 10 µs', call: () => runPod(podConfig({ linux: { resources: { cpuPeriod: 10n } } })), field: /config\.linux\.resources\.cpu_period 10 µs/ },
        { what: 'a negative user', call: () => runPod(podConfig({ linux: { securityContext: { runAsUser: { value: -1n } } } })), field: /config\.linux\.security_context\.run_as_user -1/ },
      ];
      await expectAllRefused(cases);
      expect(await daemon.podIds()).toEqual([basePod]);
      // No name was left reserved: the same pod runs now.
      const { podSandboxId } = await runPod(podConfig());
      await daemon.stopAndRemovePod(podSandboxId);
    },
    LONG_MS,
  );

  test(
    'CreateContainer refuses names and log paths that leave the log directory (by .. or a symbolic link), bad mounts, devices and environment, NULs, invalid UTF-8 and absurd resources, leaving nothing',
    async () => {
      // The base pod's log directory, with links out of it as a hostile neighbour could leave.
      const logDirectory = join(daemon.dirs.dir, 'logs', 'base');
      await mkdir(logDirectory, { recursive: true });
      await symlink(outside, join(logDirectory, 'linked-dir'));
      await symlink(join(outside, 'target.log'), join(logDirectory, 'linked.log'));
      const bigArgs = Array.from({ length: 20 }, () => 'a'.repeat(100 * 1024));
      const invalidUtf8 = withInvalidUtf8(Runtime.createContainer.requestSerialize({ podSandboxId: basePod, config: containerConfig({ args: [MARKER] }), sandboxConfig: undefined }), MARKER);
      const create = (extra: ContainerOptions) => createIn(basePod, containerConfig(extra));
      const cases: HostileCase[] = [
        { what: "a name with '/', as the log file name", call: () => create({ metadata: { name: '../../outside/escaped' }, logPath: '' }), field: /config\.metadata\.name "\.\.\/\.\.\/outside\/escaped" contains '\/'/ },
        { what: 'a name of 300 bytes', call: () => create({ metadata: { name: 'n'.repeat(300) } }), field: /config\.metadata\.name is longer than 253 bytes/ },
        { what: "a log path with '..'", call: () => create({ logPath: '../../outside/escaped.log' }), field: /config\.log_path "\.\.\/\.\.\/outside\/escaped\.log" contains '\.\.'/ },
        { what: 'an absolute log path', call: () => create({ logPath: join(outside, 'escaped.log') }), field: /config\.log_path .* is not a relative path/ },
        { what: 'a log path through a linked directory', call: () => create({ logPath: 'linked-dir/escaped.log' }), field: /config\.log_path "linked-dir\/escaped\.log": .*linked-dir is a symbolic link/ },
        { what: 'a log file that is a link', call: () => create({ logPath: 'linked.log' }), field: /config\.log_path "linked\.log": .*linked\.log is a symbolic link/ },
        { what: 'a relative container path', call: () => create({ mounts: [{ containerPath: 'data', hostPath: outside }] }), field: /config\.mounts\[0\]\.container_path "data" is not an absolute path/ },
        { what: "a container path with '..'", call: () => create({ mounts: [{ containerPath: '/data/../../etc', hostPath: outside }] }), field: /config\.mounts\[0\]\.container_path .* contains '\.\.'/ },
        { what: "a mount over the container's root", call: () => create({ mounts: [{ containerPath: '//.', hostPath: outside }] }), field: /config\.mounts\[0\]\.container_path "\/\/\." would cover the container's root filesystem/ },
        { what: 'a relative host path', call: () => create({ mounts: [{ containerPath: '/data', hostPath: 'outside' }] }), field: /config\.mounts\[0\]\.host_path "outside" is not an absolute path/ },
        { what: "a host path with '..'", call: () => create({ mounts: [{ containerPath: '/data', hostPath: `${outside}/../../..` }] }), field: /config\.mounts\[0\]\.host_path .* contains '\.\.'/ },
        {
          what: 'bidirectional propagation in an unprivileged container',
          call: () => create({ mounts: [{ containerPath: '/data', hostPath: outside, propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL }] }),
          field: /config\.mounts\[0\]\.propagation: bidirectional propagation needs a privileged container/,
        },
        { what: 'a program the image does not have', call: () => create({ command: ['/no/such/program'] }), field: /the container's program "\/no\/such\/program" cannot be run: .*no such file or directory/ },
        { what: 'an empty program', call: () => create({ command: [''] }), field: /the container's program "" cannot be run: executable file not found/ },
        { what: 'a host path through a file', call: () => create({ mounts: [{ containerPath: '/data', hostPath: `${daemon.dirs.configFile}/data` }] }), field: /mount \/data: host_path .*podvisor\.conf\/data cannot be reached: ENOTDIR/ },
        { what: 'a device through a file', call: () => create({ devices: [{ containerPath: '/dev/x', hostPath: '/dev/null/x', permissions: 'rw' }] }), field: /device \/dev\/null\/x does not exist/ },
        { what: 'a relative device', call: () => create({ devices: [{ containerPath: '/dev/null2', hostPath: 'null', permissions: 'rw' }] }), field: /config\.devices\[0\]\.host_path "null"/ },
        { what: 'a relative working directory', call: () => create({ workingDir: 'work' }), field: /config\.working_dir "work" is not an absolute path/ },
        { what: "an environment key with '='", call: () => create({ envs: [{ key: 'A=B', value: Buffer.from('c') }] }), field: /config\.envs\[0\]\.key "A=B"/ },
        { what: 'an environment value with a NUL', call: () => create({ envs: [{ key: 'A', value: Buffer.from('b\0c') }] }), field: /config\.envs\[0\]\.value contains a NUL byte/ },
        { what: 'a command with a NUL', call: () => create({ command: ['sleep', '6\x0000'] }), field: /config\.command\[1\] contains a NUL byte/ },
        { what: 'arguments of 2 MB', call: () => create({ args: bigArgs }), field: /config: the command, arguments and environment hold more than 1024 KiB/ },
        { what: 'an argument that is not UTF-8', call: () => unaryBytes(daemon.client, Runtime.createContainer, invalidUtf8), field: /config\.args\[0\] is not valid UTF-8/ },
        { what: 'annotations of 640 KiB', call: () => create({ annotations: Object.fromEntries(Array.from({ length: 160 }, (_, i) => [`n${i}`, 'x'.repeat(4096)])) }), field: /config\.annotations holds more than 512 KiB/ },
        { what: 'negative CPU shares', call: () => create(resources({ cpuShares: -1n })), field: /config\.linux\.resources\.cpu_shares -1/ },
        { what: 'CPU shares of 2^40', call: () => create(resources({ cpuShares: 2n ** 40n })), field: /config\.linux\.resources\.cpu_shares 1099511627776/ },
        { what: 'a negative CPU quota', call: () => create(resources({ cpuQuota: -5n })), field: /config\.linux\.resources\.cpu_quota -5/ },
        { what: 'a memory limit of 1 byte', call: () => create(resources({ memoryLimitInBytes: 1n })), field: /config\.linux\.resources\.memory_limit_in_bytes 1 bytes/ },
        { what: 'a memory limit of 2^63 - 1', call: () => create(resources({ memoryLimitInBytes: 2n ** 63n - 1n })), field: /config\.linux\.resources\.memory_limit_in_bytes 9223372036854775807/ },
        { what: 'swap below the memory limit', call: () => create(resources({ memoryLimitInBytes: 64n * MIB, memorySwapLimitInBytes: 32n * MIB })), field: /config\.linux\.resources\.memory_swap_limit_in_bytes/ },
        { what: 'an oom_score_adj of 1001', call: () => create(resources({ oomScoreAdj: 1001n })), field: /config\.linux\.resources\.oom_score_adj 1001/ },
        { what: 'a cpuset of letters', call: () => create(resources({ cpusetCpus: 'all' })), field: /config\.linux\.resources\.cpuset_cpus "all"/ },
        { what: 'a cpuset beyond any CPU', call: () => create(resources({ cpusetCpus: '0-99999' })), field: /config\.linux\.resources\.cpuset_cpus "0-99999"/ },
        { what: "a hugepage size with '..'", call: () => create(resources({ hugepageLimits: [{ pageSize: '../2MB', limit: 0n }] })), field: /config\.linux\.resources\.hugepage_limits\[0\]\.page_size/ },
        { what: "a unified key with '..'", call: () => create(resources({ unified: { '../../cgroup.procs': '1' } })), field: /config\.linux\.resources\.unified key "\.\.\/\.\.\/cgroup\.procs"/ },
        { what: "the core's cgroup.procs as a unified key", call: () => create(resources({ unified: { 'cgroup.procs': '1' } })), field: /config\.linux\.resources\.unified key "cgroup\.procs"/ },
        { what: 'a unified value of two lines', call: () => create(resources({ unified: { 'memory.high': '1000000\n2' } })), field: /config\.linux\.resources\.unified\["memory\.high"\]/ },
        { what: 'a supplemental group of 2^40', call: () => create({ linux: { securityContext: { supplementalGroups: [2n ** 40n] } } }), field: /config\.linux\.security_context\.supplemental_groups\[0\]/ },
        { what: 'a relative masked path', call: () => create({ linux: { securityContext: { maskedPaths: ['proc/kcore'] } } }), field: /config\.linux\.security_context\.masked_paths\[0\]/ },
        { what: 'a pod ID of 10 MB', call: () => createIn('p'.repeat(10_000_000), containerConfig()), field: /pod_sandbox_id is longer than an ID/ },
      ];
      await expectAllRefused(cases);
      expect(await containerIds(basePod)).toEqual([]);
      // No name was left reserved, and a log path inside the directory works.
      const { containerId } = await createIn(basePod, containerConfig({ logPath: 'victim/0.log' }));
      await unary(daemon.client, Runtime.removeContainer, { containerId });
    },
    LONG_MS,
  );

  test(
    'requests the kubelet may send at the limits pass: 256 KiB of annotations, names of 253 bytes, a 63-character hostname, 500 KiB of environment, a 100 KiB argument, no CPU quota',
    async () => {
      const annotations = Object.fromEntries(Array.from({ length: 64 }, (_, index) => [`example.com/note-${index}`, 'x'.repeat(4000)]));
      const name = `p${'o'.repeat(252)}`;
      const pod = await runPod(podConfig({ metadata: { name, namespace: 'n'.repeat(253), uid: 'uid-at-the-limits' }, hostname: 'h'.repeat(63), annotations }));
      const envs = Array.from({ length: 500 }, (_, index) => ({ key: `VAR_${index}`, value: Buffer.from('v'.repeat(1000)) }));
      const { containerId } = await createIn(
        pod.podSandboxId,
        containerConfig({ metadata: { name: 'c'.repeat(200) }, logPath: `${'c'.repeat(200)}/0.log`, command: ['sh', '-c', 'sleep 600', 'a'.repeat(100 * 1024)], envs, annotations, ...resources({ cpuQuota: -1n, cpuShares: 2n, oomScoreAdj: -997n }) }),
      );
      await unary(daemon.client, Runtime.startContainer, { containerId });
      const { stdout } = await unary(daemon.client, Runtime.execSync, { containerId, cmd: ['sh', '-c', 'env | grep -c ^VAR_; hostname'], timeout: 30n });
      expect(stdout.toString()).toBe(`500\n${'h'.repeat(63)}\n`);
      await daemon.stopAndRemovePod(pod.podSandboxId);
    },
    LONG_MS,
  );

  test(
    'UpdateContainerResources, ExecSync and StopContainer refuse absurd values and leave the container as it was; a timeout beyond what a timer can wait is waited, not cut to nothing',
    async () => {
      const { containerId } = await createIn(basePod, containerConfig({ metadata: { name: 'steady' }, logPath: 'steady.log', ...resources({ memoryLimitInBytes: 64n * MIB }) }));
      await unary(daemon.client, Runtime.startContainer, { containerId });
      const update = (values: Partial<LinuxContainerResources>) => unary(daemon.client, Runtime.updateContainerResources, { containerId, linux: LinuxContainerResources.fromPartial(values), windows: undefined, annotations: {} });
      await expectAllRefused([
        { what: 'an update to 2^63 - 1 bytes', call: () => update({ memoryLimitInBytes: 2n ** 63n - 1n }), field: /linux\.memory_limit_in_bytes 9223372036854775807/ },
        { what: "an update of a unified key with '..'", call: () => update({ unified: { '../cgroup.procs': '1' } }), field: /linux\.unified key/ },
        { what: 'an update of oom_score_adj to -5000', call: () => update({ oomScoreAdj: -5000n }), field: /linux\.oom_score_adj -5000/ },
        { what: 'an exec with a negative timeout', call: () => unary(daemon.client, Runtime.execSync, { containerId, cmd: ['true'], timeout: -1n }), field: /ExecSync: timeout -1 s is negative/ },
        { what: 'an exec with a NUL', call: () => unary(daemon.client, Runtime.execSync, { containerId, cmd: ['echo', 'a\0b'], timeout: 10n }), field: /ExecSync: cmd\[1\] contains a NUL byte/ },
        { what: 'a stop with a negative timeout', call: () => unary(daemon.client, Runtime.stopContainer, { containerId, timeout: -10n }), field: /timeout -10 s is negative/ },
        { what: 'a status of a 10 MB container ID', call: () => unary(daemon.client, Runtime.containerStatus, { containerId: 'c'.repeat(10_000_000), verbose: false }), field: /container_id is longer than an ID/ },
      ]);
      const { status } = await unary(daemon.client, Runtime.containerStatus, { containerId, verbose: false });
      expect(status?.state).toBe(ContainerState.CONTAINER_RUNNING);
      expect(status?.resources?.linux?.memoryLimitInBytes).toBe(64n * MIB);
      const { stdout, exitCode } = await unary(daemon.client, Runtime.execSync, { containerId, cmd: ['echo', 'answered'], timeout: 2n ** 62n });
      expect([stdout.toString(), exitCode]).toEqual(['answered\n', 0]);
      // A program the container does not have fails as a shell's would, so a probe naming it fails.
      const missing = await unary(daemon.client, Runtime.execSync, { containerId, cmd: ['no-such-program'], timeout: 10n });
      expect([missing.exitCode, missing.stderr.toString()]).toEqual([127, expect.stringContaining('"no-such-program": executable file not found')]);
      await unary(daemon.client, Runtime.stopContainer, { containerId, timeout: 0n });
      await unary(daemon.client, Runtime.removeContainer, { containerId });
    },
    LONG_MS,
  );

  test('a refusal that quotes a huge value is answered with the value cut short, and the connection keeps serving', async () => {
    const error = await grpcFailure(unary(daemon.client, Images.pullImage, { image: ImageSpec.fromPartial({ image: `${'x'.repeat(100_000)}:latest` }), auth: undefined, sandboxConfig: undefined }));
    expect(Code[error.code]).toBe('INVALID_ARGUMENT');
    expect(error.details.length).toBeLessThan(MAX_DETAILS_CHARS);
    await unary(daemon.client, Runtime.status, { verbose: false });
  });

  describe('VM pods', () => {
    let vmPod: string;

    beforeAll(async () => {
      vmPod = await daemon.runPod('vm-base', 'vm');
    }, VM_MS);

    test(
      'a VM pod asking for more memory than the host has is refused before its VM boots, as are absurd values',
      async () => {
        const overHost = BigInt(totalmem()) * 2n;
        await expectAllRefused([
          { what: 'twice the host memory', call: () => runPod(podConfig({ linux: { resources: { memoryLimitInBytes: overHost } } }), 'vm'), field: /the pod's VM would need \d+ MiB .* more than this host's \d+ MiB/ },
          { what: 'an overhead of 2^63 - 1 bytes', call: () => runPod(podConfig({ linux: { overhead: { memoryLimitInBytes: 2n ** 63n - 1n } } }), 'vm'), field: /config\.linux\.overhead\.memory_limit_in_bytes/ },
          { what: 'a CPU quota of 2^50', call: () => runPod(podConfig({ linux: { resources: { cpuQuota: 2n ** 50n, cpuPeriod: 100_000n } } }), 'vm'), field: /config\.linux\.resources\.cpu_quota/ },
        ]);
      },
      LONG_MS,
    );

    test(
      "a VM pod's container with bad mounts, a log path out of its directory or more memory than the host has is refused, nothing is shared into the guest, and the pod still runs containers",
      async () => {
        const logDirectory = join(daemon.dirs.dir, 'logs', 'vm-base');
        await mkdir(logDirectory, { recursive: true });
        await symlink(outside, join(logDirectory, 'linked-dir'));
        const create = (extra: ContainerOptions) => createIn(vmPod, containerConfig(extra));
        await expectAllRefused([
          { what: 'a relative host path', call: () => create({ mounts: [{ containerPath: '/data', hostPath: 'outside' }] }), field: /config\.mounts\[0\]\.host_path "outside" is not an absolute path/ },
          { what: "a container path with '..'", call: () => create({ mounts: [{ containerPath: '/../../run/podvisor/shared', hostPath: outside }] }), field: /config\.mounts\[0\]\.container_path .* contains '\.\.'/ },
          { what: 'a log path through a linked directory', call: () => create({ logPath: 'linked-dir/escaped.log' }), field: /config\.log_path "linked-dir\/escaped\.log": .*linked-dir is a symbolic link/ },
          { what: 'twice the host memory', call: () => create(resources({ memoryLimitInBytes: BigInt(totalmem()) * 2n })), field: /the pod's VM would need \d+ MiB .* more than this host's \d+ MiB/ },
        ]);
        expect(await containerIds(vmPod)).toEqual([]);
        const { containerId } = await createIn(vmPod, containerConfig({ mounts: [{ containerPath: '/data', hostPath: outside, readonly: true }] }));
        await unary(daemon.client, Runtime.startContainer, { containerId });
        const { stdout } = await unary(daemon.client, Runtime.execSync, { containerId, cmd: ['ls', '-a', '/data'], timeout: 60n }, VM_MS);
        expect(stdout.toString()).toBe('.\n..\n');
        await daemon.stopAndRemovePod(vmPod, VM_MS);
      },
      VM_MS,
    );
  });
});
