import type { Figure } from './figures';
import type { RuntimeName } from './runtime';
import type { Summary } from './stats';

/** What one runtime's session produced. */
export interface RuntimeResult {
  name: RuntimeName;
  version: string;
  latencies: Map<string, Summary>;
  figures: Figure[];
}

const NONE = '–';

function ms(value: number | undefined): string {
  return value === undefined ? NONE : value.toFixed(1);
}

function number(value: number | undefined): string {
  if (value === undefined) return NONE;
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

/** Podvisor's figure over containerd's; a dash when either is missing or either is not a size (negative, a zero divisor). */
export function ratio(podvisor: number | undefined, containerd: number | undefined): string {
  if (podvisor === undefined || containerd === undefined || podvisor < 0 || containerd <= 0) return NONE;
  return `${(podvisor / containerd).toFixed(2)}x`;
}

/** A markdown table with its columns padded to one width, readable in a terminal as well. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  const rule = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Every label any runtime has, in the order the runs produced them. */
function labels(results: RuntimeResult[], keys: (result: RuntimeResult) => string[]): string[] {
  return [...new Set(results.flatMap(keys))];
}

/** The ratio column, when both runtimes ran. */
function ratioColumn(results: RuntimeResult[], value: (result: RuntimeResult) => number | undefined): string[] {
  const podvisor = results.find((result) => result.name === 'podvisor');
  const containerd = results.find((result) => result.name === 'containerd');
  return podvisor && containerd ? [ratio(value(podvisor), value(containerd))] : [];
}

function ratioTitle(results: RuntimeResult[], title: string): string[] {
  return results.length > 1 ? [title] : [];
}

/** Per call: count, then median and p90 in ms for each runtime, then the ratio of medians. */
export function latencyTable(results: RuntimeResult[]): string {
  const rows = labels(results, (result) => [...result.latencies.keys()]).map((label) => {
    const summaries = results.map((result) => result.latencies.get(label));
    const count = summaries.find((summary) => summary !== undefined)?.count ?? 0;
    return [label, String(count), ...summaries.flatMap((summary) => [ms(summary?.median), ms(summary?.p90)]), ...ratioColumn(results, (result) => result.latencies.get(label)?.median)];
  });
  const header = ['call (ms)', 'n', ...results.flatMap((result) => [`${result.name} median`, `${result.name} p90`]), ...ratioTitle(results, 'ratio (median)')];
  return formatTable(header, rows);
}

/** Per figure: its unit, each runtime's value, and the ratio. */
export function figureTable(results: RuntimeResult[]): string {
  const unitOf = new Map(results.flatMap((result) => result.figures.map((figure) => [figure.label, figure.unit] as const)));
  const rows = labels(results, (result) => result.figures.map((figure) => figure.label)).map((label) => {
    const value = (result: RuntimeResult): number | undefined => result.figures.find((figure) => figure.label === label)?.value;
    return [label, unitOf.get(label) ?? '', ...results.map((result) => number(value(result))), ...ratioColumn(results, value)];
  });
  return formatTable(['figure', 'unit', ...results.map((result) => result.name), ...ratioTitle(results, 'ratio')], rows);
}

/**
 * The pod network alone (see network-floor.ts), each step beside containerd's pod lifecycle:
 * a share of it that Podvisor's whole pod lifecycle cannot go below.
 */
export function floorTable(floor: Map<string, Summary>, results: RuntimeResult[], podLifecycle: string): string {
  const containerd = results.find((result) => result.name === 'containerd')?.latencies.get(podLifecycle)?.median;
  const rows = [...floor].map(([label, summary]) => [label, String(summary.count), ms(summary.median), ms(summary.p90), ratio(summary.median, containerd)]);
  return formatTable(['pod network alone, no runtime (ms)', 'n', 'median', 'p90', `median / containerd's ${podLifecycle}`], rows);
}
