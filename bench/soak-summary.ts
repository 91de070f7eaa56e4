import { cycleLabel, type CallRecord, type ChurnSource } from './call-log';
import type { DaemonFootprint } from './daemon-footprint';
import type { HeapReading } from './daemon-heap';
import { GC_QUIET_MS, SETTLE_MS } from './scale';
import { quantile } from './stats';

/** The daemon's footprint at one moment of the soak (ms since it began). */
export interface FootprintSample {
  at: number;
  footprint: DaemonFootprint;
}

/** With no pod left, how long the daemon is left to finish and collect garbage before a checkpoint's reading (see scale.ts). */
export const QUIET_MS = SETTLE_MS + GC_QUIET_MS;

/** A reading taken with no pod left and the daemon quiet for QUIET_MS, then made to collect its garbage; named for when it was taken. */
export interface Checkpoint extends FootprintSample {
  name: string;
  heap: HeapReading;
}

export const START_CHECKPOINT = 'start';
export const WARM_CHECKPOINT = 'after warm-up';
export const HALF_CHECKPOINT = 'half-way';
export const END_CHECKPOINT = 'end';

export interface SoakSettings {
  durationMs: number;
  warmupMs: number;
  windowMs: number;
  runcClients: number;
  vmClients: number;
}

/** Everything a soak recorded. */
export interface SoakResult {
  settings: SoakSettings;
  records: CallRecord[];
  samples: FootprintSample[];
  checkpoints: Checkpoint[];
  /** When the soak ended, in ms since it began. */
  endAt: number;
  /** What the daemon still listed once every pod was meant to be gone. */
  listed: { pods: number; containers: number };
  /** What the host audit found of the daemon's with no pod left, one line each. */
  leftovers: string[];
}

/**
 * How much more the daemon may hold at the end checkpoint than after the warm-up, each read
 * after a full garbage collection: what its objects hold (heap but compiled code, and outside
 * the heap), its resident memory, and its live objects of each kind. bench/README.md's soak
 * section says why these.
 */
export const HEAP_TOLERANCE_MIB = 2;
export const RSS_TOLERANCE_MIB = 8;
export const OBJECT_TOLERANCE = 25;

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
}

export function percentiles(values: readonly number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  return { count: values.length, p50: quantile(values, 0.5), p90: quantile(values, 0.9), p99: quantile(values, 0.99) };
}

const RELIST_STATUSES = new Set(['PodSandboxStatus', 'ContainerStatus']);

/** A relist's status call that found its object removed since the list: the kubelet's normal race, not a failure. */
export function isGoneSinceList(record: CallRecord): boolean {
  return record.source === 'poll' && record.outcome === 'NOT_FOUND' && RELIST_STATUSES.has(record.label);
}

export function isError(record: CallRecord): boolean {
  return record.outcome !== 'OK' && !isGoneSinceList(record);
}

function range(values: readonly number[]): [number, number] | undefined {
  return values.length === 0 ? undefined : [Math.min(...values), Math.max(...values)];
}

/** One stretch of the soak: its calls, failures, latencies, and the daemon's footprint in it. */
export interface WindowSummary {
  from: number;
  to: number;
  calls: number;
  errors: CallRecord[];
  goneSinceList: number;
  polls?: Percentiles;
  cycles: Record<ChurnSource, Percentiles | undefined>;
  rssMib?: [number, number];
  fds?: [number, number];
  /** The most processes the daemon kept at one reading. */
  processes?: number;
}

function cyclesOf(records: readonly CallRecord[], source: ChurnSource): Percentiles | undefined {
  return percentiles(records.filter((record) => record.cycle && record.label === cycleLabel(source)).map((record) => record.ms));
}

function processCount(footprint: DaemonFootprint): number {
  return [...footprint.processes.values()].reduce((sum, count) => sum + count, 0);
}

/** The soak cut into windows of `windowMs` from its start; the last one may be shorter. */
export function windowSummaries(result: SoakResult): WindowSummary[] {
  const { windowMs } = result.settings;
  const windows: WindowSummary[] = [];
  for (let from = 0; from < result.endAt; from += windowMs) {
    const to = Math.min(from + windowMs, result.endAt);
    const inWindow = <T extends { at: number }>(items: readonly T[]): T[] => items.filter((item) => item.at >= from && (item.at < to || (to === result.endAt && item.at <= to)));
    const records = inWindow(result.records);
    const calls = records.filter((record) => !record.cycle);
    const samples = inWindow([...result.samples, ...result.checkpoints]).map((sample) => sample.footprint);
    windows.push({
      from,
      to,
      calls: calls.length,
      errors: records.filter(isError),
      goneSinceList: calls.filter(isGoneSinceList).length,
      polls: percentiles(calls.filter((record) => record.source === 'poll').map((record) => record.ms)),
      cycles: { runc: cyclesOf(records, 'runc'), vm: cyclesOf(records, 'vm') },
      rssMib: range(samples.map((footprint) => footprint.rssMib)),
      fds: range(samples.map((footprint) => footprint.fds)),
      processes: samples.length === 0 ? undefined : Math.max(...samples.map(processCount)),
    });
  }
  return windows;
}

/** One call (or pod cycle) over the whole soak, with its tail latency in the first and last windows it was made in. */
export interface MethodSummary {
  label: string;
  errors: number;
  all: Percentiles;
  max: number;
  firstP99: number;
  lastP99: number;
}

export function methodSummaries(result: SoakResult): MethodSummary[] {
  const labels = [...new Set(result.records.map((record) => record.label))];
  const windowOf = (record: CallRecord): number => Math.floor(record.at / result.settings.windowMs);
  return labels.flatMap((label) => {
    const records = result.records.filter((record) => record.label === label);
    const ms = records.map((record) => record.ms);
    const all = percentiles(ms);
    if (all === undefined) return [];
    const p99In = (window: number): number => quantile(records.filter((record) => windowOf(record) === window).map((record) => record.ms), 0.99);
    return [{ label, errors: records.filter(isError).length, all, max: Math.max(...ms), firstP99: p99In(windowOf(records[0])), lastP99: p99In(windowOf(records[records.length - 1])) }];
  });
}

/** What the daemon's objects hold in a heap reading: the heap but its compiled code, and what they hold outside it. */
export function heldMib(heap: HeapReading): number {
  return heap.heapUsedMib - heap.codeMib + heap.externalMib;
}

export function checkpoint(result: SoakResult, name: string): Checkpoint | undefined {
  return result.checkpoints.find((candidate) => candidate.name === name);
}

/** What in `after` is more than `tolerance` above `before`, by name: "conmon +2". */
export function countsGrown(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, tolerance = 0): string[] {
  return [...after].filter(([name, count]) => count - (before.get(name) ?? 0) > tolerance).map(([name, count]) => `${name} +${count - (before.get(name) ?? 0)}`);
}

/**
 * Why the soak is not flat, one line each; none when it is: no call failed, the daemon listed
 * nothing and left nothing on the host at the end, and its memory (within RSS_TOLERANCE_MIB),
 * open descriptors and processes at the end were no more than after the warm-up.
 */
export function soakFindings(result: SoakResult): string[] {
  const findings: string[] = [];
  const errors = result.records.filter(isError);
  if (errors.length > 0) findings.push(`${errors.length} failed calls or pod cycles`);
  if (result.listed.pods + result.listed.containers > 0) findings.push(`still listed at the end: ${result.listed.pods} pods, ${result.listed.containers} containers`);
  if (result.leftovers.length > 0) findings.push(`left on the host: ${result.leftovers.length} things (below)`);
  const warm = checkpoint(result, WARM_CHECKPOINT);
  const end = checkpoint(result, END_CHECKPOINT);
  if (warm === undefined || end === undefined) {
    findings.push('the soak ended before its end checkpoint');
    return findings;
  }
  const heapGrowth = heldMib(end.heap) - heldMib(warm.heap);
  if (heapGrowth > HEAP_TOLERANCE_MIB) findings.push(`what the daemon's objects hold (heap but code, and external) grew by ${heapGrowth.toFixed(1)} MiB from ${WARM_CHECKPOINT} to ${END_CHECKPOINT} (tolerance ${HEAP_TOLERANCE_MIB} MiB)`);
  const objectsGrown = countsGrown(warm.heap.objects, end.heap.objects, OBJECT_TOLERANCE);
  if (objectsGrown.length > 0) findings.push(`live objects grew by more than ${OBJECT_TOLERANCE} from ${WARM_CHECKPOINT} to ${END_CHECKPOINT}: ${objectsGrown.join(', ')}`);
  const rssGrowth = end.footprint.rssMib - warm.footprint.rssMib;
  if (rssGrowth > RSS_TOLERANCE_MIB) findings.push(`daemon RSS grew by ${rssGrowth.toFixed(1)} MiB from ${WARM_CHECKPOINT} to ${END_CHECKPOINT} (tolerance ${RSS_TOLERANCE_MIB} MiB)`);
  const fdsGrown = countsGrown(warm.footprint.fdKinds, end.footprint.fdKinds);
  if (end.footprint.fds > warm.footprint.fds) findings.push(`open descriptors grew from ${warm.footprint.fds} to ${end.footprint.fds} (${fdsGrown.join(', ')})`);
  const processesGrown = countsGrown(warm.footprint.processes, end.footprint.processes);
  if (processesGrown.length > 0) findings.push(`processes kept grew: ${processesGrown.join(', ')}`);
  return findings;
}
