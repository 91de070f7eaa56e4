import type { DaemonFootprint } from './daemon-footprint';
import { figureValue, formatTable, NONE } from './report';
import {
  checkpoint,
  END_CHECKPOINT,
  HEAP_TOLERANCE_MIB,
  heldMib,
  isError,
  methodSummaries,
  OBJECT_TOLERANCE,
  RSS_TOLERANCE_MIB,
  soakFindings,
  WARM_CHECKPOINT,
  windowSummaries,
  type Checkpoint,
  type Percentiles,
  type SoakResult,
} from './soak-summary';

/** m:ss since the soak began. */
export function clock(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

function ms(value: number): string {
  return value.toFixed(1);
}

function spread(value: Percentiles | undefined): string {
  return value === undefined ? NONE : `${ms(value.p50)} / ${ms(value.p90)} / ${ms(value.p99)}`;
}

function between(value: [number, number] | undefined): string {
  if (value === undefined) return NONE;
  const [low, high] = value.map(figureValue);
  return low === high ? low : `${low}–${high}`;
}

function counts(map: ReadonlyMap<string, number>): string {
  return map.size === 0 ? 'none' : [...map].map(([name, count]) => `${name} ${count}`).join(', ');
}

/** Per window: calls and failures, latencies (p50 / p90 / p99 in ms), and the daemon's footprint in it. */
function windowTable(result: SoakResult): string {
  const rows = windowSummaries(result).map((window) => [
    `${clock(window.from)}–${clock(window.to)}`,
    String(window.calls),
    String(window.errors.length),
    String(window.goneSinceList),
    spread(window.polls),
    String(window.cycles.runc?.count ?? 0),
    spread(window.cycles.runc),
    String(window.cycles.vm?.count ?? 0),
    spread(window.cycles.vm),
    between(window.rssMib),
    between(window.fds),
    window.processes === undefined ? NONE : String(window.processes),
  ]);
  const header = ['window', 'calls', 'errors', 'gone since list', 'polls p50 / p90 / p99', 'runc cycles', 'runc cycle p50 / p90 / p99', 'vm cycles', 'vm cycle p50 / p90 / p99', 'daemon RSS (MiB)', 'open fds', 'processes'];
  return formatTable(header, rows);
}

/** Every failure, by window, call and code, with the first message of each. */
function errorTable(result: SoakResult): string {
  const groups = new Map<string, { window: string; label: string; outcome: string; count: number; message: string }>();
  for (const window of windowSummaries(result)) {
    for (const record of window.errors) {
      const key = `${window.from} ${record.label} ${record.outcome}`;
      const group = groups.get(key);
      if (group) group.count++;
      else groups.set(key, { window: `${clock(window.from)}–${clock(window.to)}`, label: record.label, outcome: record.outcome, count: 1, message: (record.message ?? '').slice(0, 160) });
    }
  }
  if (groups.size === 0) return 'No call and no pod cycle failed.';
  return formatTable(['window', 'call', 'code', 'n', 'first message'], [...groups.values()].map((group) => [group.window, group.label, group.outcome, String(group.count), group.message]));
}

function methodTable(result: SoakResult): string {
  const rows = methodSummaries(result).map((method) => [
    method.label,
    String(method.all.count),
    String(method.errors),
    ms(method.all.p50),
    ms(method.all.p90),
    ms(method.all.p99),
    ms(method.max),
    ms(method.firstP99),
    ms(method.lastP99),
  ]);
  return formatTable(['call (ms)', 'n', 'errors', 'p50', 'p90', 'p99', 'max', 'p99 first window', 'p99 last window'], rows);
}

function footprintCells(footprint: DaemonFootprint): string[] {
  return [figureValue(footprint.rssMib), String(footprint.fds), counts(footprint.fdKinds), counts(footprint.processes)];
}

function checkpointTable(result: SoakResult): string {
  const rows = result.checkpoints.map(({ name, at, heap, footprint }) => [
    name,
    clock(at),
    figureValue(heap.heapUsedMib),
    figureValue(heap.codeMib),
    figureValue(heap.externalMib),
    figureValue(heldMib(heap)),
    counts(heap.objects),
    ...footprintCells(footprint),
  ]);
  const header = ['idle checkpoint, after a full GC', 'at', 'heap used (MiB)', 'of it code', 'external', 'held: heap - code + external', 'live objects', 'RSS (MiB)', 'open fds', 'fds by kind', 'processes kept'];
  return formatTable(header, rows);
}

function leftoverText(result: SoakResult): string {
  const table = formatTable(
    ['at the end', 'found'],
    [
      ['pods listed', String(result.listed.pods)],
      ['containers listed', String(result.listed.containers)],
      ['on the host (netns, mounts, cgroups, processes, veths, leases, iptables, state files)', String(result.leftovers.length)],
    ],
  );
  return result.leftovers.length === 0 ? table : `${table}\n\n${result.leftovers.map((line) => `- ${line}`).join('\n')}`;
}

function objectTotal(checkpoint: Checkpoint): string {
  return String(checkpoint.heap.objects.get('Object') ?? NONE);
}

function verdictText(result: SoakResult): string {
  const findings = soakFindings(result);
  const warm = checkpoint(result, WARM_CHECKPOINT);
  const end = checkpoint(result, END_CHECKPOINT);
  const mib = (before: number, after: number, tolerance: number): string => `${figureValue(before)} -> ${figureValue(after)} MiB (tolerance +${tolerance})`;
  const growth =
    warm && end
      ? `held (heap - code + external) ${mib(heldMib(warm.heap), heldMib(end.heap), HEAP_TOLERANCE_MIB)}, live objects ${objectTotal(warm)} -> ${objectTotal(end)} (tolerance +${OBJECT_TOLERANCE} of each kind), RSS ${mib(warm.footprint.rssMib, end.footprint.rssMib, RSS_TOLERANCE_MIB)}, open fds ${warm.footprint.fds} -> ${end.footprint.fds}, processes kept ${counts(warm.footprint.processes)} -> ${counts(end.footprint.processes)}`
      : '';
  if (findings.length === 0) return `Verdict: flat. No failure, nothing left behind; from ${WARM_CHECKPOINT} to ${END_CHECKPOINT}: ${growth}.`;
  return `Verdict: NOT flat.\n\n${findings.map((finding) => `- ${finding}`).join('\n')}${growth === '' ? '' : `\n\nFrom ${WARM_CHECKPOINT} to ${END_CHECKPOINT}: ${growth}.`}`;
}

/** The soak's tables as printed after a run and written into bench/README.md. */
export function soakResultText(result: SoakResult): string {
  const { settings } = result;
  const calls = result.records.filter((record) => !record.cycle).length;
  const cycles = result.records.filter((record) => record.cycle).length;
  const failed = result.records.filter(isError).length;
  return [
    `Soak: ${settings.runcClients} runc and ${settings.vmClients} vm churn clients for ${clock(settings.durationMs)} (warm-up ${clock(settings.warmupMs)}), the kubelet's pollers throughout, windows of ${clock(settings.windowMs)}; ${calls} calls, ${cycles} pod cycles, ${failed} failed.`,
    verdictText(result),
    windowTable(result),
    errorTable(result),
    methodTable(result),
    checkpointTable(result),
    leftoverText(result),
  ].join('\n\n');
}
