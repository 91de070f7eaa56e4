import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './stats';

/** Wall-clock durations in milliseconds, collected per label (a CRI verb or a lifecycle total). */
export class Timings {
  private readonly samples = new Map<string, number[]>();

  record(label: string, ms: number): void {
    const list = this.samples.get(label);
    if (list) list.push(ms);
    else this.samples.set(label, [ms]);
  }

  /** Runs `call`, records how long it took under `label`, and answers the duration with its result. */
  async measure<T>(label: string, call: () => Promise<T>): Promise<{ value: T; ms: number }> {
    const started = performance.now();
    const value = await call();
    const ms = performance.now() - started;
    this.record(label, ms);
    return { value, ms };
  }

  summaries(): Map<string, Summary> {
    return new Map([...this.samples].map(([label, values]) => [label, summarize(values)]));
  }
}
