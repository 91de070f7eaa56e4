// The bench's pure parts: statistics, the side-by-side tables, its flags, and the configs it
// generates for containerd and CNI. Running the bench itself is `npm run bench`, not a test.
import { parse } from 'smol-toml';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { conflist } from '../bench/cni-network';
import { containerdConfig, containerdPaths } from '../bench/containerd';
import { parseBenchArgs, UsageError } from '../bench/options';
import { IDLE_PSS, podModesConfig, POD_MODES } from '../bench/pod-modes';
import { fdKind } from '../bench/daemon-footprint';
import { inCgroup, perPodProcesses, runtimeProcesses, type ProcessInfo } from '../bench/processes';
import { QEMU_FLOOR } from '../bench/qemu-floor';
import { readInTurn } from '../bench/churn-reader';
import { warm } from '../bench/idle-reads';
import { CriCalls } from '../bench/cri-calls';
import { CONTAINER_LIFECYCLE, CREATE_AND_START, POD_LIFECYCLE } from '../bench/lifecycle';
import { churnObjects, LiveObjects } from '../bench/live-objects';
import { NETWORK_FLOOR } from '../bench/network-floor';
import { READ_LABELS, type ReadCall } from '../bench/read-calls';
import { readsTable } from '../bench/reads-report';
import { issue19Table } from '../bench/speed-targets';
import { Timings } from '../bench/timings';
import { criClient } from '../testbed/cri-client';
import type { CallRecord } from '../bench/call-log';
import { updatedReadme, type RunRecord } from '../bench/readme';
import { soakResultText } from '../bench/soak-report';
import { HEAP_TOLERANCE_MIB, OBJECT_TOLERANCE, RSS_TOLERANCE_MIB, soakFindings, windowSummaries, type Checkpoint, type SoakResult } from '../bench/soak-summary';
import { figureTable, floorTable, formatTable, latencyTable, ratio, type Measured, type RuntimeResult } from '../bench/report';
import { quantile, summarize, type Summary } from '../bench/stats';
import { DAEMON_CPU, EXEC_ANSWERING, POPULATION_PSS_PER_POD } from '../bench/vm-population';
import { vmResultText } from '../bench/vm-report';
import { validateConfig } from '../config/validate';
import { errorMessage } from '../system/errors';

describe('statistics', () => {
  test('the median of an even count is the mean of the middle two; order does not matter', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(summarize([5, 1, 3])).toEqual({ count: 3, median: 3, p90: 4.6 });
  });

  test('p90 interpolates between the nearest ranks and one sample is its own every quantile', () => {
    const values = Array.from({ length: 11 }, (_unused, index) => index * 10);
    expect(quantile(values, 0.9)).toBeCloseTo(90);
    expect(summarize([7])).toEqual({ count: 1, median: 7, p90: 7 });
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });
});

type Row = [label: string, median: number, p90: number];
const summaries = (rows: Row[], count = 4): Map<string, Summary> => new Map(rows.map(([label, median, p90]) => [label, { count, median, p90 }]));

function result(name: 'podvisor' | 'containerd', latencies: Row[], figures: [string, number][] = [], reads: { idle?: Row[]; churn?: Row[] } = {}): RuntimeResult {
  return {
    name,
    version: `${name} 1`,
    latencies: summaries(latencies),
    reads: { idle: summaries(reads.idle ?? []), churn: summaries(reads.churn ?? [], name === 'podvisor' ? 30 : 40) },
    figures: figures.map(([label, value]) => ({ label, unit: 'MiB', value })),
  };
}

const tableRows = (table: string): string[][] => table.split('\n').map((line) => line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== ''));

describe('report', () => {
  test('ratios are Podvisor over containerd, with a dash where there is nothing to divide', () => {
    expect(ratio(30, 120)).toBe('0.25x');
    expect(ratio(undefined, 1)).toBe('–');
    expect(ratio(1, 0)).toBe('–');
    expect(ratio(-1, 2)).toBe('–');
  });

  test('a table pads every column to its widest cell', () => {
    expect(formatTable(['a', 'bb'], [['ccc', 'd']]).split('\n')).toEqual(['| a   | bb |', '|-----|----|', '| ccc | d  |']);
  });

  test('the latency table puts both runtimes side by side with the ratio of medians', () => {
    const table = latencyTable([result('podvisor', [['RunPodSandbox', 50, 60]]), result('containerd', [['RunPodSandbox', 200, 250], ['PullImage', 80, 90]])]);
    const rows = table.split('\n').map((line) => line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== ''));
    expect(rows[0]).toEqual(['call (ms)', 'n', 'podvisor median', 'podvisor p90', 'containerd median', 'containerd p90', 'ratio (median)']);
    expect(rows[2]).toEqual(['RunPodSandbox', '4', '50.0', '60.0', '200.0', '250.0', '0.25x']);
    expect(rows[3]).toEqual(['PullImage', '4', '–', '–', '80.0', '90.0', '–']);
  });

  test('with one runtime there is no ratio column', () => {
    const header = latencyTable([result('containerd', [['ListImages', 1, 2]])]).split('\n')[0];
    expect(header).toContain('containerd median');
    expect(header).not.toContain('podvisor');
    expect(header).not.toContain('ratio');
    expect(figureTable([result('podvisor', [], [['daemon RSS idle', 70]])]).split('\n')[2]).toMatch(/^\| daemon RSS idle \| MiB +\| 70 +\|$/);
  });

  test("the pod network's steps are set beside containerd's pod lifecycle, a dash without containerd", () => {
    const floor = new Map([
      ['CNI DEL', { count: 4, median: 60, p90: 70 }],
      ['netns + CNI ADD + CNI DEL', { count: 4, median: 100, p90: 120 }],
    ]);
    const rows = (table: string): string[][] => table.split('\n').map((line) => line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== ''));
    const both = rows(floorTable(floor, [result('podvisor', [['pod lifecycle', 150, 160]]), result('containerd', [['pod lifecycle', 250, 300]])], 'pod lifecycle'));
    expect(both[0]).toEqual(['pod network alone, no runtime (ms)', 'n', 'median', 'p90', "median / containerd's pod lifecycle"]);
    expect(both.slice(2)).toEqual([
      ['CNI DEL', '4', '60.0', '70.0', '0.24x'],
      ['netns + CNI ADD + CNI DEL', '4', '100.0', '120.0', '0.40x'],
    ]);
    expect(rows(floorTable(floor, [result('podvisor', [['pod lifecycle', 150, 160]])], 'pod lifecycle'))[3][4]).toBe('–');
  });
});

describe('read calls and issue 19', () => {
  test('the read calls are set idle and under churn side by side, each phase with its counts and ratio', () => {
    const podvisor = result('podvisor', [], [], { idle: [['ContainerStatus', 0.5, 0.8]], churn: [['ContainerStatus', 2, 3]] });
    const containerd = result('containerd', [], [], { idle: [['ContainerStatus', 1, 1.2]], churn: [['ContainerStatus', 1, 2], ['ListImages', 1, 1]] });
    const rows = tableRows(readsTable([podvisor, containerd]));
    expect(rows[0]).toEqual([
      'read call (ms)',
      'idle n', 'podvisor idle median', 'podvisor idle p90', 'containerd idle median', 'containerd idle p90', 'idle ratio',
      'churn n', 'podvisor churn median', 'podvisor churn p90', 'containerd churn median', 'containerd churn p90', 'churn ratio',
    ]);
    expect(rows[2]).toEqual(['ContainerStatus', '4', '0.5', '0.8', '1.0', '1.2', '0.50x', '30/40', '2.0', '3.0', '1.0', '2.0', '2.00x']);
    expect(rows[3]).toEqual(['ListImages', '0', '–', '–', '–', '–', '–', '40', '–', '–', '1.0', '1.0', '–']);
  });

  const reads = (ms: number): Row[] => READ_LABELS.map((label) => [label, ms, ms]);
  const podvisor = result('podvisor', [[POD_LIFECYCLE, 170, 180], [CONTAINER_LIFECYCLE, 50, 60], ['RemoveContainer', 7, 8], ['RemoveImage', 4, 5], [CREATE_AND_START, 30, 40]], [['daemon RSS idle', 40], ['daemon RSS, 100 pods', 95]], { idle: reads(0.5), churn: reads(2) });
  const containerd = result('containerd', [[POD_LIFECYCLE, 300, 310], [CONTAINER_LIFECYCLE, 100, 120], ['RemoveContainer', 5, 6], ['RemoveImage', 2, 3], [CREATE_AND_START, 30, 35]], [['daemon RSS idle', 42], ['daemon RSS, 100 pods', 90]], { idle: reads(1), churn: reads(1) });

  test("the targets table sets every read call, idle and under churn, and the lifecycles and memory beside issue 19's targets", () => {
    const rows = tableRows(issue19Table([podvisor, containerd], new Map([[NETWORK_FLOOR, { count: 4, median: 150, p90: 160 }]])));
    expect(rows[0]).toEqual(['issue 19 target', 'measured', 'target', 'met']);
    expect(rows).toHaveLength(2 + READ_LABELS.length * 2 + 7);
    expect(rows.slice(2, 4)).toEqual([
      ["ContainerStatus idle / containerd's", '0.50x', '<= 1.00x', 'yes'],
      ["ContainerStatus churn / containerd's", '2.00x', '<= 1.00x', 'no'],
    ]);
    expect(rows.slice(-4)).toEqual([
      ["container lifecycle / containerd's", '0.50x', '<= 0.60x', 'yes'],
      ['pod lifecycle - netns + CNI ADD + CNI DEL', '20.0 ms', '<= 25 ms', 'yes'],
      ["daemon RSS idle / containerd's", '0.95x', '<= 1.00x', 'yes'],
      ["daemon RSS, 100 pods / containerd's", '1.06x', '<= 1.00x', 'no'],
    ]);
  });

  test("critest's removals may be 1.5x containerd's, its CreateContainer + StartContainer no slower", () => {
    const rows = tableRows(issue19Table([podvisor, containerd], new Map()));
    expect(rows.slice(-7, -4)).toEqual([
      ["RemoveContainer / containerd's", '1.40x', '<= 1.50x', 'yes'],
      ["RemoveImage / containerd's", '2.00x', '<= 1.50x', 'no'],
      ["ImageStatus + CreateContainer + StartContainer / containerd's", '1.00x', '<= 1.00x', 'yes'],
    ]);
  });

  test('a target with a runtime, the network floor or the --scale figures missing has a dash', () => {
    const alone = { ...podvisor, figures: podvisor.figures.slice(0, 1) };
    const rows = tableRows(issue19Table([alone], new Map()));
    expect(rows[2]).toEqual(["ContainerStatus idle / containerd's", '–', '<= 1.00x', '–']);
    expect(rows.slice(-3)).toEqual([
      ['pod lifecycle - netns + CNI ADD + CNI DEL', '–', '<= 25 ms', '–'],
      ["daemon RSS idle / containerd's", '–', '<= 1.00x', '–'],
      ["daemon RSS, --scale pods / containerd's", '–', '<= 1.00x', '–'],
    ]);
  });

  test('a reader takes every read call in turn and the live objects in turn, passing over a call with none live and going on past one that fails', async () => {
    const live = churnObjects();
    live.container.add('c1');
    live.container.add('c2');
    const seen: string[] = [];
    const stop = new AbortController();
    const note = async (entry: string): Promise<void> => {
      seen.push(entry);
      if (seen.length === 6) stop.abort();
    };
    const calls: ReadCall[] = [
      { label: 'List', call: () => note('List') },
      { label: 'Container', target: 'container', call: (_cri, id) => note(`Container ${id}`) },
      { label: 'Pod', target: 'pod', call: (_cri, id) => note(`Pod ${id}`) },
      { label: 'Broken', call: () => Promise.reject(new Error('UNKNOWN')) },
    ];
    const failed: string[] = [];
    const client = criClient(join(tmpdir(), 'no-daemon-here.sock'));
    const timings = new Timings();
    try {
      await readInTurn(new CriCalls(client, ''), timings, calls, live, stop.signal, (label, error) => failed.push(`${label}: ${errorMessage(error)}`));
    } finally {
      client.close();
    }
    expect(seen).toEqual(['List', 'Container c1', 'List', 'Container c2', 'List', 'Container c1']);
    expect([...timings.summaries()].map(([label, summary]) => [label, summary.count])).toEqual([['List', 3], ['Container', 3]]);
    expect(failed).toEqual(['Broken: UNKNOWN', 'Broken: UNKNOWN']);
  });

  test('a withdrawn object is read no more, and its withdrawal waits for a read of it under way, failed or not', async () => {
    const live = new LiveObjects();
    live.add('a');
    const events: string[] = [];
    let fail: (error: Error) => void = () => undefined;
    const reading = live.read(async (id) => {
      events.push(`read ${id}`);
      await new Promise<void>((_resolve, reject) => (fail = reject));
    });
    const withdrawn = live.withdraw('a').then(() => events.push('withdrawn'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['read a']);
    fail(new Error('NOT_FOUND'));
    await expect(reading).rejects.toThrow('NOT_FOUND');
    await withdrawn;
    expect(events).toEqual(['read a', 'withdrawn']);
    expect(await live.read(async () => events.push('read again'))).toBe(false);
    expect(events).toEqual(['read a', 'withdrawn']);
  });

  test('the warm lap makes every call a fast runtime answers, stops a slow one at its time limit, and fails with a call that fails', async () => {
    const signal = new AbortController().signal;
    let fast = 0;
    await warm(async () => (fast += 1), { parallel: 2, signal }, { calls: 50, ms: 60_000 });
    expect(fast).toBe(50);

    // 50 calls of 50 ms, 2 at a time, would take over a second.
    let slow = 0;
    await warm(() => ((slow += 1), sleep(50)), { parallel: 2, signal }, { calls: 50, ms: 120 });
    expect(slow).toBeGreaterThanOrEqual(2);
    expect(slow).toBeLessThan(50);

    await expect(warm(() => Promise.reject(new Error('UNAVAILABLE')), { parallel: 2, signal }, { calls: 50, ms: 60_000 })).rejects.toThrow('UNAVAILABLE');
  });
});

describe('flags', () => {
  test('defaults are 40 pods two at a time against both runtimes', () => {
    expect(parseBenchArgs([])).toMatchObject({ pods: 40, parallel: 2, rounds: 1, runtimes: ['podvisor', 'containerd'], scale: false, scalePods: 100, scaleContainers: 500 });
    expect(parseBenchArgs(['--rounds', '4'])).toMatchObject({ rounds: 4 });
    expect(parseBenchArgs(['--pods', '6', '--only', 'containerd', '--scale'])).toMatchObject({ pods: 6, runtimes: ['containerd'], scale: true });
    expect(parseBenchArgs(['--', '--pods', '6'])).toMatchObject({ pods: 6 });
    expect(parseBenchArgs([]).cpuProfileDir).toBeUndefined();
    expect(parseBenchArgs(['--cpu-prof', 'profiles']).cpuProfileDir).toBe(join(process.cwd(), 'profiles'));
  });

  test('VM pods are measured only with --vm: 5 pods per mode and 20 together unless told', () => {
    expect(parseBenchArgs([])).toMatchObject({ vm: false, vmPods: 5, vmScalePods: 20 });
    expect(parseBenchArgs(['--vm', '--vm-pods', '2', '--vm-scale-pods', '4', '--only', 'podvisor'])).toMatchObject({ vm: true, vmPods: 2, vmScalePods: 4, runtimes: ['podvisor'] });
    expect(() => parseBenchArgs(['--vm-pods', '0'])).toThrow(new UsageError('--vm-pods expects a positive integer, got "0"'));
  });

  test('the soak runs only with --soak: 10 minutes of 4 clients, one of them on VM pods, in windows of a minute unless told', () => {
    expect(parseBenchArgs([])).toMatchObject({ soak: false, soakMs: 600_000, windowMs: 60_000, clients: 4, vmClients: 1 });
    expect(parseBenchArgs(['--soak', '--duration', '90s', '--window', '30', '--clients', '2', '--vm-clients', '0'])).toMatchObject({ soak: true, soakMs: 90_000, windowMs: 30_000, clients: 2, vmClients: 0 });
    expect(parseBenchArgs(['--duration', '1h']).soakMs).toBe(3_600_000);
    expect(() => parseBenchArgs(['--duration', '10 min'])).toThrow(new UsageError('--duration expects a time such as 90s, 10m or 1h, got "10 min"'));
    expect(() => parseBenchArgs(['--window', '0s'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--clients', '0'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--clients', '2', '--vm-clients', '3'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--soak', '--vm'])).toThrow(UsageError);
  });

  test('bad values are usage errors that name the flag', () => {
    expect(() => parseBenchArgs(['--pods', '0'])).toThrow(new UsageError('--pods expects a positive integer, got "0"'));
    expect(() => parseBenchArgs(['--only', 'cri-o'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--scale-pods', '10', '--scale-containers', '5'])).toThrow(UsageError);
  });
});

describe('VM pods', () => {
  const rows = (table: string): string[][] => table.split('\n').map((line) => line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== ''));
  const mode = (name: string, start: number, pss: number): Measured => ({
    name,
    latencies: new Map([['Run + Create + Start', { count: 2, median: start, p90: start }]]),
    figures: [{ label: IDLE_PSS, unit: 'MiB', value: pss }],
  });

  test("podvisord's config for them has the four handlers, accepted by its own validation", () => {
    const { handlers, default_handler } = validateConfig(parse(podModesConfig(POD_MODES))).runtime;
    expect(default_handler).toBe('runc');
    expect(handlers).toMatchObject({
      runc: { type: 'oci', runtime_path: '/usr/bin/runc' },
      'vm-cold': { type: 'vm', template: false, warm_clones: 0 },
      'vm-template': { type: 'vm', template: true, warm_clones: 0 },
      'vm-warm': { type: 'vm', template: true, warm_clones: 2 },
    });
    expect(Object.keys(handlers)).toHaveLength(4);
  });

  test('ratio columns appear only where both of their columns ran', () => {
    const table = latencyTable([mode('runc', 100, 1), mode('vm-cold', 900, 200)], [
      { title: 'vm-cold / runc', over: 'vm-cold', under: 'runc' },
      { title: 'vm-warm / runc', over: 'vm-warm', under: 'runc' },
    ]);
    expect(rows(table)[0]).toEqual(['call (ms)', 'n', 'runc median', 'runc p90', 'vm-cold median', 'vm-cold p90', 'vm-cold / runc']);
    expect(rows(table)[2]).toEqual(['Run + Create + Start', '2', '100.0', '100.0', '900.0', '900.0', '9.00x']);
  });

  test("a pod's processes are those in its cgroup or below it, in any hierarchy", () => {
    const v1 = '12:memory:/podvisor/pod-a/podvisor-conmon-c1\n1:name=systemd:/user.slice\n0::/';
    expect(inCgroup(v1, '/podvisor/pod-a')).toBe(true);
    expect(inCgroup('0::/podvisor/pod-a', '/podvisor/pod-a')).toBe(true);
    expect(inCgroup('0::/podvisor/pod-ab', '/podvisor/pod-a')).toBe(false);
    expect(inCgroup('4:cpu,cpuacct:/', '/podvisor/pod-a')).toBe(false);
  });

  const vm = {
    accelerator: 'tcg' as const,
    modes: [mode('runc', 100, 0.5), mode('vm-cold', 9000, 240), mode('vm-template', 300, 38)],
    floor: new Map([[QEMU_FLOOR, { count: 2, median: 3000, p90: 3100 }]]),
    population: {
      name: '20 vm-template pods',
      latencies: new Map(),
      figures: [
        { label: POPULATION_PSS_PER_POD, unit: 'MiB', value: 36 },
        { label: DAEMON_CPU, unit: '% core', value: 0.5 },
        { label: EXEC_ANSWERING, unit: 'of 20', value: 19 },
      ],
    },
    populationPods: 20,
  };

  test("the targets table sets each figure beside issue 16's target, a dash where a figure is missing", () => {
    const table = rows(vmResultText(vm).split('\n\n').at(-1) ?? '');
    expect(table[0]).toEqual(['issue 16 target', 'measured', 'target', 'met']);
    expect(table.slice(2)).toEqual([
      ["vm-template Run + Create + Start / runc's", '3.00x', '<= 4x', 'yes'],
      ['vm-cold Run + Create + Start / bare QEMU boot to init', '3.00x', '<= 1.5x', 'no'],
      ['PSS per idle vm-template pod', '38 MiB', '<= 40 MiB', 'yes'],
      ['PSS per vm-template pod, 20 vm-template pods', '36 MiB', '<= 40 MiB', 'yes'],
      ['PSS per idle vm-cold pod', '240 MiB', '<= 130 MiB', 'no'],
      ['daemon CPU while they idle, 20 vm-template pods', '0.50 % core', '< 1 % core', 'yes'],
      ['exec-sync answering (echo ok), 20 vm-template pods', '19/20', '20/20', 'no'],
    ]);
    const missing = rows(vmResultText({ ...vm, population: { ...vm.population, figures: [] } }).split('\n\n').at(-1) ?? '');
    expect(missing[7]).toEqual(['daemon CPU while they idle, 20 vm-template pods', '–', '< 1 % core', '–']);
  });

  test('--write-readme with --vm rewrites only the VM pods section; without, everything but it', () => {
    const run: RunRecord = { date: '2026-12-05', machine: 'a machine', command: 'npm run bench', results: [result('podvisor', [['ListImages', 1, 2]])], floor: new Map() };
    const withVm = updatedReadme('# Benchmark\n\nold runtime results\n\n## VM pods\n\nold VM results\n', { ...run, vm });
    expect(withVm).toMatch(/^# Benchmark\n\nold runtime results\n\n## VM pods\n/);
    expect(withVm).not.toContain('old VM results');
    expect(withVm).toContain('| issue 16 target');
    const without = updatedReadme(withVm, run);
    expect(without).not.toContain('old runtime results');
    expect(without).toContain('| ListImages');
    expect(without).toContain('| read call (ms)');
    expect(without).toContain('| issue 19 target');
    expect(without.slice(without.indexOf('\n## VM pods\n'))).toBe(withVm.slice(withVm.indexOf('\n## VM pods\n')));
  });
});

describe('per-pod processes', () => {
  const processes: ProcessInfo[] = [
    { pid: 10, ppid: 1, comm: 'containerd', cmdline: 'containerd --config /tmp/x/config.toml', cpuTicks: 0 },
    { pid: 11, ppid: 10, comm: 'bridge', cmdline: '/usr/lib/cni/bridge /tmp/x/cni', cpuTicks: 0 },
    { pid: 20, ppid: 1, comm: 'containerd-shim', cmdline: 'containerd-shim-runc-v2 -address /tmp/x/containerd.sock', cpuTicks: 0 },
    { pid: 21, ppid: 20, comm: 'pause', cmdline: '/pause', cpuTicks: 0 },
    { pid: 22, ppid: 20, comm: 'sleep', cmdline: 'sleep 3600', cpuTicks: 0 },
    { pid: 30, ppid: 1, comm: 'containerd-shim', cmdline: 'containerd-shim-runc-v2 -address /tmp/other/containerd.sock', cpuTicks: 0 },
  ];

  test('are the monitors from the runtime directory and their children, without the daemon or the workload', () => {
    expect(perPodProcesses(processes, '/tmp/x/', 10, ['sleep']).map((info) => info.pid)).toEqual([20, 21]);
  });

  test('with the workload and what the daemon runs itself, but not the daemon, are all the processes a daemon keeps', () => {
    expect(runtimeProcesses(processes, 10, '/tmp/x/').map((info) => info.pid)).toEqual([11, 20, 21, 22]);
  });
});

describe('generated configs', () => {
  test("containerd keeps everything under the bench's directory and pulls the bench registry over HTTP", () => {
    const config = parse(containerdConfig(containerdPaths('/tmp/ctd'), '127.0.0.1:5123', '127.0.0.1:5123/bench/pause:1')) as Record<string, unknown>;
    expect(config).toMatchObject({ root: '/tmp/ctd/root', state: '/tmp/ctd/state', grpc: { address: '/tmp/ctd/containerd.sock' } });
    const cri = (config.plugins as Record<string, Record<string, unknown>>)['io.containerd.grpc.v1.cri'];
    expect(cri).toMatchObject({
      sandbox_image: '127.0.0.1:5123/bench/pause:1',
      restrict_oom_score_adj: true,
      cni: { conf_dir: '/tmp/ctd/cni' },
      registry: { mirrors: { '127.0.0.1:5123': { endpoint: ['http://127.0.0.1:5123'] } } },
      containerd: { runtimes: { runc: { options: { Root: '/tmp/ctd/runc' } } } },
    });
  });

  test('both runtimes get the same CNI chain, differing only in names, subnet and lease directory', () => {
    const strip = (text: string): string => text.replace(/"(name|bridge|subnet|dataDir)": "[^"]*"/g, '"$1": ""');
    const podvisor = conflist({ name: 'bench-a', bridge: 'pvb1', subnet: '10.240.0.0/16' }, '/tmp/a');
    const containerd = conflist({ name: 'bench-b', bridge: 'ctb1', subnet: '10.241.0.0/16' }, '/tmp/b');
    expect(podvisor).not.toEqual(containerd);
    expect(strip(podvisor)).toEqual(strip(containerd));
    expect(JSON.parse(podvisor)).toMatchObject({ plugins: [{ type: 'bridge', bridge: 'pvb1', ipam: { ranges: [[{ subnet: '10.240.0.0/16' }]] } }, { type: 'portmap' }] });
  });
});

describe('soak', () => {
  const rows = (table: string): string[][] => table.split('\n').map((line) => line.split('|').map((cell) => cell.trim()).filter((cell) => cell !== ''));
  const call = (at: number, label: string, ms: number, outcome = 'OK', source: CallRecord['source'] = 'runc'): CallRecord => ({ at, label, ms, outcome, source, cycle: false });
  const cycle = (at: number, ms: number, source: 'runc' | 'vm' = 'runc'): CallRecord => ({ at, label: `${source} pod cycle`, ms, outcome: 'OK', source, cycle: true });
  const reading = (name: string, at: number, heapUsedMib: number, rssMib: number, fds: number, processes: [string, number][] = [], sets = 50): Checkpoint => ({
    name,
    at,
    heap: { heapUsedMib, codeMib: 1, externalMib: 2, objects: new Map([['Object', 50_000], ['Set', sets]]) },
    footprint: { rssMib, fds, fdKinds: new Map([['socket', fds]]), processes: new Map(processes) },
  });
  const flat: SoakResult = {
    settings: { durationMs: 120_000, warmupMs: 60_000, windowMs: 60_000, runcClients: 1, vmClients: 1 },
    records: [
      call(1000, 'RunPodSandbox', 80),
      cycle(1500, 400),
      call(2000, 'ContainerStatus', 1, 'NOT_FOUND', 'poll'),
      call(3000, 'ListContainers', 2, 'OK', 'poll'),
      call(61_000, 'RunPodSandbox', 120),
      cycle(62_000, 3000, 'vm'),
    ],
    samples: [{ at: 30_000, footprint: reading('', 0, 0, 90, 40).footprint }],
    checkpoints: [reading('start', 0, 10, 60, 30), reading('after warm-up', 80_000, 14, 76, 29), reading('half-way', 100_000, 15, 79, 29), reading('end', 119_000, 14 + HEAP_TOLERANCE_MIB, 76 + RSS_TOLERANCE_MIB, 29)],
    endAt: 120_000,
    listed: { pods: 0, containers: 0 },
    leftovers: [],
  };

  test('a window counts its calls, takes apart the races of the relist from failures, and spans its readings', () => {
    const [first, second] = windowSummaries(flat);
    expect(first).toMatchObject({ from: 0, to: 60_000, calls: 3, errors: [], goneSinceList: 1, rssMib: [60, 90], fds: [30, 40], processes: 0 });
    expect(first.polls).toMatchObject({ count: 2, p50: 1.5 });
    expect(first.cycles.runc).toMatchObject({ count: 1, p50: 400 });
    expect(first.cycles.vm).toBeUndefined();
    expect(second).toMatchObject({ from: 60_000, to: 120_000, calls: 1, rssMib: [76, 84] });
    expect(second.cycles.vm?.p99).toBe(3000);
  });

  test('growth within the tolerances, no failure and nothing left is flat; anything else is named', () => {
    expect(soakFindings(flat)).toEqual([]);
    expect(soakResultText(flat)).toContain('Verdict: flat.');
    const grown = { ...flat, checkpoints: [...flat.checkpoints.slice(0, 3), reading('end', 119_000, 16.5, 85, 31, [['conmon', 1]], 50 + OBJECT_TOLERANCE + 46)] };
    expect(soakFindings(grown)).toEqual([
      "what the daemon's objects hold (heap but code, and external) grew by 2.5 MiB from after warm-up to end (tolerance 2 MiB)",
      `live objects grew by more than ${OBJECT_TOLERANCE} from after warm-up to end: Set +${OBJECT_TOLERANCE + 46}`,
      'daemon RSS grew by 9.0 MiB from after warm-up to end (tolerance 8 MiB)',
      'open descriptors grew from 29 to 31 (socket +2)',
      'processes kept grew: conmon +1',
    ]);
    const failed = { ...flat, records: [...flat.records, call(5000, 'ListPodSandboxStats', 9, 'INTERNAL', 'poll')], listed: { pods: 1, containers: 0 }, leftovers: ['netns: /var/run/netns/x'] };
    expect(soakFindings(failed)).toEqual(['1 failed calls or pod cycles', 'still listed at the end: 1 pods, 0 containers', 'left on the host: 1 things (below)']);
    const text = soakResultText(failed);
    expect(text).toContain('Verdict: NOT flat.');
    const errors = text.split('\n\n').find((part) => part.includes('| first message'));
    expect(rows(errors ?? '')[2]).toEqual(['0:00–1:00', 'ListPodSandboxStats', 'INTERNAL', '1']);
    expect(text).toContain('- netns: /var/run/netns/x');
  });

  test('--write-readme with --soak rewrites only its section, and a runtime run keeps it', () => {
    const run: RunRecord = { date: '2026-12-06', machine: 'a machine', command: 'npm run bench', results: [result('podvisor', [['ListImages', 1, 2]])], floor: new Map() };
    const soaked = updatedReadme('# Benchmark\n\nold runtime results\n\n## VM pods\n\nold VM results\n\n## Soak\n\nold soak\n', { ...run, results: [], soak: flat });
    expect(soaked).toMatch(/^# Benchmark\n\nold runtime results\n\n## VM pods\n\nold VM results\n\n## Soak\n/);
    expect(soaked).not.toContain('old soak');
    expect(soaked).toContain('Verdict: flat.');
    const runtimes = updatedReadme(soaked, run);
    expect(runtimes).toContain('| ListImages');
    expect(runtimes.slice(runtimes.indexOf('\n## VM pods\n'))).toBe(soaked.slice(soaked.indexOf('\n## VM pods\n')));
  });

  test("a daemon's descriptors are told apart by kind", () => {
    expect(['socket:[123]', 'pipe:[9]', 'anon_inode:[eventpoll]', 'anon_inode:inotify', '/dev/null', '/dev/pts/3', '/tmp/x/podvisor.log'].map(fdKind)).toEqual([
      'socket',
      'pipe',
      'eventpoll',
      'inotify',
      '/dev/null',
      '/dev/pts',
      'file',
    ]);
  });

});
