import type { Figure } from './figures';
import type { ReadPhase } from './read-calls';
import type { RuntimeName } from './runtime';
import type { Summary } from './stats';

/** One column of a side-by-side table: a runtime, or one way of running pods. */
export interface Measured {
  name: string;
  latencies: Map<string, Summary>;
  figures: Figure[];
}

/** What one runtime's session produced. */
export interface RuntimeResult extends Measured {
  name: RuntimeName;
  version: string;
  /** The read calls, idle and under churn, apart from `latencies`. */
  reads: Record<ReadPhase, Map<string, Summary>>;
}

/** A ratio column: the figure of the column named `over` divided by that of `under`, shown where both ran. */
export interface RatioColumn {
  title: string;
  over: string;
  under: string;
}

/** The runtime tables' one ratio: Podvisor over containerd. */
export const PEER_RATIO = { over: 'podvisor', under: 'containerd' };

/** What a table shows where there is no figure. */
export const NONE = '–';

export function ms(value: number | undefined): string {
  return value === undefined ? NONE : value.toFixed(1);
}

/** The value of `measured`'s figure labelled `label`, if it has one. */
export function figureOf(measured: Measured | undefined, label: string): number | undefined {
  return measured?.figures.find((figure) => figure.label === label)?.value;
}

/** A figure as the tables print it: integers whole, others to one decimal from 10 up, two below. */
export function figureValue(value: number | undefined): string {
  if (value === undefined) return NONE;
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

/** One figure over another; undefined when either is missing or either is not a size (negative, a zero divisor). */
export function quotient(over: number | undefined, under: number | undefined): number | undefined {
  return over === undefined || under === undefined || over < 0 || under <= 0 ? undefined : over / under;
}

/** A quotient as the tables print it: 0.25x. */
export function timesText(value: number): string {
  return `${value.toFixed(2)}x`;
}

/** One figure over another as the tables print it; a dash where quotient has none. */
export function ratio(over: number | undefined, under: number | undefined): string {
  const value = quotient(over, under);
  return value === undefined ? NONE : timesText(value);
}

/** A markdown table with its columns padded to one width, readable in a terminal as well. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  const rule = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Every label any column has, in the order the runs produced them. */
function labels(results: Measured[], keys: (result: Measured) => string[]): string[] {
  return [...new Set(results.flatMap(keys))];
}

/** The ratio columns whose two columns both ran. */
function presentRatios(results: Measured[], ratios: RatioColumn[]): RatioColumn[] {
  const names = new Set(results.map((result) => result.name));
  return ratios.filter(({ over, under }) => names.has(over) && names.has(under));
}

function ratioCells(results: Measured[], ratios: RatioColumn[], value: (result: Measured) => number | undefined): string[] {
  const of = (name: string): number | undefined => {
    const result = results.find((candidate) => candidate.name === name);
    return result === undefined ? undefined : value(result);
  };
  return ratios.map(({ over, under }) => ratio(of(over), of(under)));
}

/** The n cell: the columns' count where they agree, else each column's in column order. */
export function countText(summaries: (Summary | undefined)[]): string {
  const counts = summaries.flatMap((summary) => (summary === undefined ? [] : [summary.count]));
  return new Set(counts).size <= 1 ? String(counts[0] ?? 0) : counts.join('/');
}

/** Columns of a latency table that share an n column and their ratios: `countTitle` heads the n column. */
export interface LatencyGroup {
  countTitle: string;
  results: Measured[];
  ratios: RatioColumn[];
}

/**
 * Per call, for each group side by side: count, then median and p90 in ms for each of its
 * columns, then its ratios of medians.
 */
export function groupedLatencyTable(title: string, groups: LatencyGroup[]): string {
  const shown = groups.map((group) => ({ ...group, ratios: presentRatios(group.results, group.ratios) }));
  const rows = labels(shown.flatMap((group) => group.results), (result) => [...result.latencies.keys()]).map((label) => [
    label,
    ...shown.flatMap(({ results, ratios }) => {
      const summaries = results.map((result) => result.latencies.get(label));
      return [countText(summaries), ...summaries.flatMap((summary) => [ms(summary?.median), ms(summary?.p90)]), ...ratioCells(results, ratios, (result) => result.latencies.get(label)?.median)];
    }),
  ]);
  const header = [title, ...shown.flatMap(({ countTitle, results, ratios }) => [countTitle, ...results.flatMap((result) => [`${result.name} median`, `${result.name} p90`]), ...ratios.map((ratioColumn) => ratioColumn.title)])];
  return formatTable(header, rows);
}

/** Per call: count, then median and p90 in ms for each column, then the ratios of medians. */
export function latencyTable(results: Measured[], ratios: RatioColumn[] = [{ title: 'ratio (median)', ...PEER_RATIO }]): string {
  return groupedLatencyTable('call (ms)', [{ countTitle: 'n', results, ratios }]);
}

/** Per figure: its unit, each column's value, and the ratios. */
export function figureTable(results: Measured[], ratios: RatioColumn[] = [{ title: 'ratio', ...PEER_RATIO }]): string {
  const shown = presentRatios(results, ratios);
  const unitOf = new Map(results.flatMap((result) => result.figures.map((figure) => [figure.label, figure.unit] as const)));
  const rows = labels(results, (result) => result.figures.map((figure) => figure.label)).map((label) => {
    const value = (result: Measured): number | undefined => result.figures.find((figure) => figure.label === label)?.value;
    return [label, unitOf.get(label) ?? '', ...results.map((result) => figureValue(value(result))), ...ratioCells(results, shown, value)];
  });
  return formatTable(['figure', 'unit', ...results.map((result) => result.name), ...shown.map(({ title }) => title)], rows);
}

/** Per label: count, median and p90 in ms, and one more column derived from the median. */
export function summaryTable(title: string, summaries: Map<string, Summary>, derived: { title: string; of: (median: number) => string }): string {
  const rows = [...summaries].map(([label, summary]) => [label, String(summary.count), ms(summary.median), ms(summary.p90), derived.of(summary.median)]);
  return formatTable([title, 'n', 'median', 'p90', derived.title], rows);
}

/**
 * The pod network alone (see network-floor.ts), each step beside containerd's pod lifecycle:
 * a share of it that Podvisor's whole pod lifecycle cannot go below.
 */
export function floorTable(floor: Map<string, Summary>, results: RuntimeResult[], podLifecycle: string): string {
  const containerd = results.find((result) => result.name === 'containerd')?.latencies.get(podLifecycle)?.median;
  return summaryTable('pod network alone, no runtime (ms)', floor, { title: `median / containerd's ${podLifecycle}`, of: (median) => ratio(median, containerd) });
}
