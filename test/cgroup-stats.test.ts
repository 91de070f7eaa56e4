// Cgroup usage as CRI reports it, read from fake v1 and v2 trees (file contents in the kernel's
// own formats) and from a real cgroup2 mount.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupVersion } from '../oci/cgroups/cgroup-hierarchies';
import type { CgroupStatsReader } from '../oci/cgroups/cgroup-usage';
import { v1StatsReader } from '../oci/cgroups/cgroup-v1-stats';
import { v2StatsReader } from '../oci/cgroups/cgroup-v2-stats';
import { runcCgroupDir } from '../oci/conmon/runc-cgroup-dir';
import { containerCgroupsPath } from '../oci/spec/cgroups-path';
import { slicePath } from '../oci/cgroups/systemd-slice';
import { runToolChecked } from '../system/run-tool';
import { waitUntil } from '../system/wait-until';
import { CpuUsage } from '../proto/gen/cri-api-v1';
import { criCgroupStats } from '../server/container-stats-view';
import { recordCpuReading } from '../server/cpu-rates';

// memory.stat of a v1 cgroup on this kind of host, as the kernel writes it.
const V1_MEMORY_STAT = `cache 123539456
rss 146690048
rss_huge 4194304
shmem 0
mapped_file 15138816
dirty 1216512
writeback 0
workingset_refault_anon 0
workingset_refault_file 169010
swap 0
swapcached 0
pgpgin 2759028
pgpgout 2695850
pgfault 3842309
pgmajfault 916
inactive_anon 146665472
active_anon 24576
inactive_file 27664384
active_file 95875072
unevictable 0
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 123539456
total_rss 146690048
total_rss_huge 4194304
total_shmem 0
total_mapped_file 15138816
total_dirty 1216512
total_writeback 0
total_workingset_refault_anon 0
total_workingset_refault_file 169010
total_swap 0
total_swapcached 0
total_pgpgin 2759028
total_pgpgout 2695850
total_pgfault 3842309
total_pgmajfault 916
total_inactive_anon 146665472
total_active_anon 24576
total_inactive_file 27664384
total_active_file 95875072
total_unevictable 0
`;

// memory.stat of a v2 cgroup as a 6.1 kernel writes it.
const V2_MEMORY_STAT = `anon 4370432
file 5406720
kernel 1101824
kernel_stack 65536
pagetables 204800
sec_pagetables 0
percpu 480
sock 0
vmalloc 0
shmem 0
zswap 0
zswapped 0
file_mapped 2433024
file_dirty 0
file_writeback 0
swapcached 0
anon_thp 0
file_thp 0
shmem_thp 0
inactive_anon 4358144
active_anon 12288
inactive_file 2297856
active_file 3108864
unevictable 0
slab_reclaimable 461264
slab_unreclaimable 337008
slab 798272
workingset_refault_anon 0
workingset_refault_file 0
workingset_activate_anon 0
workingset_activate_file 0
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
pgscan 0
pgsteal 0
pgscan_kswapd 0
pgscan_direct 0
pgsteal_kswapd 0
pgsteal_direct 0
pgfault 6831
pgmajfault 12
pgrefill 0
pgactivate 0
pgdeactivate 0
pglazyfree 0
pglazyfreed 0
zswpin 0
zswpout 0
thp_fault_alloc 0
thp_collapse_alloc 0
`;

const V2_CPU_STAT = `usage_usec 4579730526
user_usec 3024280974
system_usec 1555449551
core_sched.force_idle_usec 0
nr_periods 0
nr_throttled 0
throttled_usec 0
nr_bursts 0
burst_usec 0
`;

const PRESSURE = `some avg10=0.02 avg60=0.17 avg300=0.07 total=3949079
full avg10=0.00 avg60=0.12 avg300=0.05 total=2257850
`;

const CGROUP = '/podvisor/pod-a/ctr-b';

type Tree = Record<string, string>;

async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [path, text] of Object.entries(tree)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

const v1Files = (limit: string): Tree => ({
  [`cpuacct${CGROUP}/cpuacct.usage`]: '4626854181920\n',
  [`memory${CGROUP}/memory.usage_in_bytes`]: '299479040\n',
  [`memory${CGROUP}/memory.limit_in_bytes`]: `${limit}\n`,
  [`memory${CGROUP}/memory.stat`]: V1_MEMORY_STAT,
  [`pids${CGROUP}/pids.current`]: '3\n',
});

const v2Files = (files: Tree): Tree => Object.fromEntries(Object.entries(files).map(([name, text]) => [`${CGROUP}/${name}`, text]));

const v1Reader = (root: string, withPids = true): CgroupStatsReader => v1StatsReader({ cpuacct: join(root, 'cpuacct'), memory: join(root, 'memory'), pids: withPids ? join(root, 'pids') : undefined });

const psi = { Some: { Total: 3949079n, Avg10: 0.02, Avg60: 0.17, Avg300: 0.07 }, Full: { Total: 2257850n, Avg10: 0, Avg60: 0.12, Avg300: 0.05 } };
const v = (n: number | bigint) => ({ value: BigInt(n) });

// Each case: the files, how to read them, and the CRI figures a user would see.
const cases: { name: string; tree: Tree; reader: (root: string) => CgroupStatsReader; expected: Record<string, unknown> }[] = [
  {
    name: 'v1 without a memory limit',
    tree: v1Files('9223372036854771712'),
    reader: (root) => v1Reader(root),
    expected: {
      cpu: { usageCoreNanoSeconds: v(4626854181920n), psi: undefined },
      // working set = usage - total_inactive_file = 299479040 - 27664384
      memory: { usageBytes: v(299479040), workingSetBytes: v(271814656), rssBytes: v(146690048), pageFaults: v(3842309), majorPageFaults: v(916), availableBytes: undefined, psi: undefined },
      processCount: v(3),
      io: undefined,
    },
  },
  {
    name: 'v1 with a 512 MiB limit and no pids hierarchy',
    tree: v1Files('536870912'),
    reader: (root) => v1Reader(root, false),
    expected: { memory: { workingSetBytes: v(271814656), availableBytes: v(536870912 - 271814656) }, processCount: undefined },
  },
  {
    name: 'v2 with a 256 MiB limit, pids and pressure',
    tree: v2Files({
      'cpu.stat': V2_CPU_STAT,
      'cpu.pressure': PRESSURE,
      'memory.current': '10878976\n',
      'memory.max': '268435456\n',
      'memory.stat': V2_MEMORY_STAT,
      'memory.pressure': PRESSURE,
      'io.pressure': PRESSURE,
      'pids.current': '2\n',
    }),
    reader: (root) => v2StatsReader(root),
    expected: {
      // cpu.stat counts microseconds
      cpu: { usageCoreNanoSeconds: v(4579730526000n), psi },
      // working set = memory.current - inactive_file = 10878976 - 2297856; rss is anon
      memory: { usageBytes: v(10878976), workingSetBytes: v(8581120), rssBytes: v(4370432), pageFaults: v(6831), majorPageFaults: v(12), availableBytes: v(268435456 - 8581120), psi },
      processCount: v(2),
      io: { psi },
    },
  },
  {
    name: 'v2 without a limit, pids controller or PSI; cache above usage leaves no working set',
    tree: v2Files({ 'cpu.stat': V2_CPU_STAT, 'memory.current': '2000000\n', 'memory.max': 'max\n', 'memory.stat': V2_MEMORY_STAT }),
    reader: (root) => v2StatsReader(root),
    expected: { cpu: { psi: undefined }, memory: { usageBytes: v(2000000), workingSetBytes: v(0), availableBytes: undefined, psi: undefined }, processCount: undefined, io: undefined },
  },
  {
    name: 'v2 with the memory controller not enabled for the cgroup: CPU only',
    tree: v2Files({ 'cpu.stat': V2_CPU_STAT }),
    reader: (root) => v2StatsReader(root),
    expected: { cpu: { usageCoreNanoSeconds: v(4579730526000n) }, memory: undefined, processCount: undefined },
  },
  { name: 'v1 cgroup that is gone', tree: {}, reader: (root) => v1Reader(root), expected: { cpu: undefined, memory: undefined, processCount: undefined, io: undefined } },
  { name: 'v2 cgroup that is gone', tree: {}, reader: (root) => v2StatsReader(root), expected: { cpu: undefined, memory: undefined, processCount: undefined, io: undefined } },
];

describe('cgroup stats from fake trees', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cgroup-stats-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test.each(cases)('$name', async ({ tree, reader, expected }) => {
    await writeTree(root, tree);
    const stats = criCgroupStats('fake', await reader(root).usage(CGROUP), 1n);
    expect(stats).toMatchObject(expected);
  });

  test('the version is told by the root: cgroup.controllers means the unified hierarchy', async () => {
    await writeTree(root, { 'v2/cgroup.controllers': 'cpuset cpu io memory pids\n', 'v1/memory/cgroup.procs': '' });
    expect(await cgroupVersion(join(root, 'v2'))).toBe('v2');
    expect(await cgroupVersion(join(root, 'v1'))).toBe('v1');
  });

  test('usage_nano_cores is the rate between the sampler\'s last two readings, however often the stats are asked for', () => {
    const at = 1_700_000_000_000_000_000n;
    recordCpuReading('rate', 1_000_000_000n, at);
    expect(criCgroupStats('rate', { cpu: { usageNanos: 1_200_000_000n } }, at + 100_000_000n).cpu?.usageNanoCores).toBeUndefined();
    // Half a core's worth of CPU time over one second.
    recordCpuReading('rate', 1_500_000_000n, at + 1_000_000_000n);
    const first = criCgroupStats('rate', { cpu: { usageNanos: 1_600_000_000n } }, at + 1_100_000_000n).cpu;
    // Another client asking in between changes nothing: the window is the sampler's.
    const second = criCgroupStats('rate', { cpu: { usageNanos: 1_700_000_000n } }, at + 1_200_000_000n).cpu;
    expect(first?.usageNanoCores).toEqual(v(500_000_000));
    expect(second?.usageNanoCores).toEqual(v(500_000_000));
    expect(second?.usageCoreNanoSeconds).toEqual(v(1_700_000_000));
  });

  test('a reading below the one before (its cgroup gone, reading as nothing, or made anew) has no rate, rather than one no answer can carry', () => {
    // A VM container whose process just exited: runc in the guest has removed its cgroup, the host has yet to hear of the exit.
    const at = 1_700_000_000_000_000_000n;
    recordCpuReading('reset', 2_500_000_000n, at);
    recordCpuReading('reset', 0n, at + 1_000_000_000n);
    const reset = criCgroupStats('reset', { cpu: { usageNanos: 0n } }, at + 1_000_000_000n).cpu;
    expect(reset?.usageNanoCores).toBeUndefined();
    expect(() => CpuUsage.encode(reset ?? CpuUsage.fromPartial({}))).not.toThrow();
    recordCpuReading('reset', 500_000_000n, at + 2_000_000_000n);
    expect(criCgroupStats('reset', { cpu: { usageNanos: 500_000_000n } }, at + 2_000_000_000n).cpu?.usageNanoCores).toEqual(v(500_000_000));
  });
});

describe('container cgroup directories', () => {
  test.each([
    ['/podvisor/pod-a/ctr-b', '/podvisor/pod-a/ctr-b'],
    ['kubepods-besteffort-pod1.slice:podvisor:abc', '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/podvisor-abc.scope'],
    ['-.slice:podvisor:abc', '/podvisor-abc.scope'],
  ])('runc puts %s at %s', (cgroupsPath, dir) => {
    expect(runcCgroupDir(cgroupsPath)).toBe(dir);
  });

  test.each(['cgroupfs', 'systemd'] as const)('with %s a container cgroup is a child of its pod cgroup', (manager) => {
    const podPath = manager === 'cgroupfs' ? '/podvisor/pod-p1' : slicePath('podvisor-podp1.slice');
    expect(dirname(runcCgroupDir(containerCgroupsPath(podPath, manager, 'c1')))).toBe(podPath);
  });
});

// The unified hierarchy mounted afresh: on a hybrid host it has no controllers (they are all
// bound to v1), so only what v2 keeps in every cgroup (cpu.stat, pressure) can be read for real.
describe('cgroup stats from a real cgroup2 mount', () => {
  let mountPoint: string;
  let busy: ChildProcess | undefined;
  const cgroup = `/podvisor-stats-test-${process.pid}`;

  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'cgroup2-'));
    await runToolChecked('mount', ['-t', 'cgroup2', 'none', mountPoint], { timeoutMs: 10_000 });
    await mkdir(join(mountPoint, cgroup));
  });

  afterAll(async () => {
    if (busy !== undefined && busy.exitCode === null && busy.signalCode === null) {
      const exited = new Promise((done) => busy?.once('exit', done));
      busy.kill('SIGKILL');
      await exited;
    }
    // The kernel frees a cgroup a moment after its last process is gone.
    await waitUntil(() => rmdir(join(mountPoint, cgroup)).then(() => true, () => false), 2_000, 100);
    await runToolChecked('umount', [mountPoint], { timeoutMs: 10_000 });
    await rmdir(mountPoint);
  });

  test('is detected as v2 and a busy process in it shows as CPU time, in nanoseconds', async () => {
    expect(await cgroupVersion(mountPoint)).toBe('v2');
    busy = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    await writeFile(join(mountPoint, cgroup, 'cgroup.procs'), String(busy.pid));
    await sleep(300);
    // Stopped, so the file and the reader see the same total.
    busy.kill('SIGSTOP');
    await sleep(50);
    const raw = (await readFile(join(mountPoint, cgroup, 'cpu.stat'), 'utf8')).match(/^usage_usec (\d+)$/m)?.[1];
    const stats = criCgroupStats('real-v2', await v2StatsReader(mountPoint).usage(cgroup), 1n);
    expect(BigInt(raw ?? 0)).toBeGreaterThan(0n);
    expect(stats.cpu?.usageCoreNanoSeconds).toEqual(v(BigInt(raw ?? 0) * 1000n));
    expect(stats.cpu?.psi?.Some?.Total).toBeGreaterThanOrEqual(0n);
    // Memory and pids figures exist only where the root hands those controllers down.
    const enabled = (await readFile(join(mountPoint, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
    expect(stats.memory === undefined).toBe(!enabled.includes('memory'));
    expect(stats.processCount === undefined).toBe(!enabled.includes('pids'));
  });
});
