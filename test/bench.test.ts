// The bench's pure parts: statistics, the side-by-side tables, its flags, and the configs it
// generates for containerd and CNI. Running the bench itself is `npm run bench`, not a test.
import { parse } from 'smol-toml';
import { join } from 'node:path';
import { conflist } from '../bench/cni-network';
import { containerdConfig, containerdPaths } from '../bench/containerd';
import { parseBenchArgs, UsageError } from '../bench/options';
import { perPodProcesses, type ProcessInfo } from '../bench/processes';
import { figureTable, floorTable, formatTable, latencyTable, ratio, type RuntimeResult } from '../bench/report';
import { quantile, summarize } from '../bench/stats';

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

function result(name: 'podvisor' | 'containerd', latencies: [string, number, number][], figures: [string, number][] = []): RuntimeResult {
  return {
    name,
    version: `${name} 1`,
    latencies: new Map(latencies.map(([label, median, p90]) => [label, { count: 4, median, p90 }])),
    figures: figures.map(([label, value]) => ({ label, unit: 'MiB', value })),
  };
}

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

describe('flags', () => {
  test('defaults are 40 pods two at a time against both runtimes', () => {
    expect(parseBenchArgs([])).toMatchObject({ pods: 40, parallel: 2, rounds: 1, runtimes: ['podvisor', 'containerd'], scale: false, scalePods: 100, scaleContainers: 500 });
    expect(parseBenchArgs(['--rounds', '4'])).toMatchObject({ rounds: 4 });
    expect(parseBenchArgs(['--pods', '6', '--only', 'containerd', '--scale'])).toMatchObject({ pods: 6, runtimes: ['containerd'], scale: true });
    expect(parseBenchArgs(['--', '--pods', '6'])).toMatchObject({ pods: 6 });
    expect(parseBenchArgs([]).cpuProfileDir).toBeUndefined();
    expect(parseBenchArgs(['--cpu-prof', 'profiles']).cpuProfileDir).toBe(join(process.cwd(), 'profiles'));
  });

  test('bad values are usage errors that name the flag', () => {
    expect(() => parseBenchArgs(['--pods', '0'])).toThrow(new UsageError('--pods expects a positive integer, got "0"'));
    expect(() => parseBenchArgs(['--only', 'cri-o'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--scale-pods', '10', '--scale-containers', '5'])).toThrow(UsageError);
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
