import { READ_PHASES, type ReadPhase } from './read-calls';
import { groupedLatencyTable, PEER_RATIO, type LatencyGroup, type RuntimeResult } from './report';

/** A runtime's column of the reads of one phase. */
export function phaseColumn(runtime: string, phase: ReadPhase): string {
  return `${runtime} ${phase}`;
}

/** One phase's columns: each runtime's reads in it, then Podvisor's over containerd's. */
function phaseGroup(results: RuntimeResult[], phase: ReadPhase): LatencyGroup {
  return {
    countTitle: `${phase} n`,
    results: results.map((result) => ({ name: phaseColumn(result.name, phase), latencies: result.reads[phase], figures: [] })),
    ratios: [{ title: `${phase} ratio`, over: phaseColumn(PEER_RATIO.over, phase), under: phaseColumn(PEER_RATIO.under, phase) }],
  };
}

/** The read calls idle and under churn side by side: each runtime's median and p90, and the ratios of medians. */
export function readsTable(results: RuntimeResult[]): string {
  return groupedLatencyTable('read call (ms)', READ_PHASES.map((phase) => phaseGroup(results, phase)));
}
