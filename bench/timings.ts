import { performance } from 'node:perf_hooks';
import { summarize, type Summary } from './stats';

/** Runs `call` and answers its result with how long it took, in ms. */
export async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await call();
  return { value, ms: performance.now() - started };
}

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
    const result = await timed(call);
    this.record(label, result.ms);
    return result;
  }

  summaries(): Map<string, Summary> {
    return new Map([...this.samples].map(([label, values]) => [label, summarize(values)]));
  }
}
