import { performance } from 'node:perf_hooks';
import type { CallObserver } from './cri-calls';

/** Who made a call: a churn client of one handler, or the kubelet-like pollers. */
export type CallSource = 'runc' | 'vm' | 'poll';
export type ChurnSource = Exclude<CallSource, 'poll'>;

export function cycleLabel(source: ChurnSource): string {
  return `${source} pod cycle`;
}

/** One CRI call, or one whole pod cycle of a churn client (`cycle`: its label names the handler). */
export interface CallRecord {
  /** When it ended, in ms since the log began. */
  at: number;
  label: string;
  ms: number;
  /** OK, a gRPC status name, or what a cycle found wrong (WRONG_ANSWER). */
  outcome: string;
  source: CallSource;
  cycle: boolean;
  /** A failure's message. */
  message?: string;
}

/** Every call the soak makes and every pod cycle, in the order they ended. */
export class CallLog {
  private readonly began = performance.now();
  readonly records: CallRecord[] = [];

  /** Milliseconds since the log began. */
  now(): number {
    return performance.now() - this.began;
  }

  /** What a CriCalls of `source` reports its calls to; a VM client's calls are labelled as such. */
  observer(source: CallSource): CallObserver {
    return (method, ms, outcome, message) => this.records.push({ at: this.now(), label: source === 'vm' ? `${method} (vm)` : method, ms, outcome, source, cycle: false, message });
  }

  cycle(source: ChurnSource, ms: number, outcome: string, message?: string): void {
    this.records.push({ at: this.now(), label: cycleLabel(source), ms, outcome, source, cycle: true, message });
  }
}
