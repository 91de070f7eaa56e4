import { InternalError } from './errors';

// The process's Prometheus metrics: every layer declares its own at module load and records into
// it; the server renders the whole registry on /metrics. Living in system/, it is reachable from
// every layer without one importing another.

type Labels = Record<string, string>;

/** Label values in the text format: backslash, quote and newline escaped. */
function labelText(labels: Labels): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

const braced = (text: string): string => (text === '' ? '' : `{${text}}`);
const joined = (...parts: string[]): string => parts.filter((part) => part !== '').join(',');

interface Family {
  render(): string[];
}

/** A monotonically increasing count per label set. */
export class Counter implements Family {
  private readonly values = new Map<string, number>();

  constructor(
    private readonly name: string,
    private readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [labels, value] of this.values) lines.push(`${this.name}${braced(labels)} ${value}`);
    return lines;
  }
}

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

/** Observations (durations in seconds) counted into cumulative buckets per label set. */
export class Histogram implements Family {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly name: string,
    private readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let series = this.series.get(key);
    if (!series) {
      series = { count: 0, sum: 0, buckets: this.bounds.map(() => 0) };
      this.series.set(key, series);
    }
    series.count += 1;
    series.sum += value;
    this.bounds.forEach((bound, i) => {
      if (value <= bound) series.buckets[i] += 1;
    });
  }

  /** Runs `work` and observes how long it took, whether it succeeded or failed. */
  async time<T>(labels: Labels, work: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      this.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [labels, series] of this.series) {
      this.bounds.forEach((bound, i) => lines.push(`${this.name}_bucket{${joined(labels, `le="${bound}"`)}} ${series.buckets[i]}`));
      lines.push(`${this.name}_bucket{${joined(labels, 'le="+Inf"')}} ${series.count}`);
      lines.push(`${this.name}_sum${braced(labels)} ${series.sum}`);
      lines.push(`${this.name}_count${braced(labels)} ${series.count}`);
    }
    return lines;
  }
}

/** Upper bounds in seconds, spanning a cached ListContainers to a slow image pull. */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];

const families = new Map<string, Family>();

function declared<F extends Family>(name: string, make: () => F): F {
  if (families.has(name)) throw new InternalError(`metric ${name} declared twice`);
  const family = make();
  families.set(name, family);
  return family;
}

export const counter = (name: string, help: string): Counter => declared(name, () => new Counter(name, help));

export const histogram = (name: string, help: string, bounds: readonly number[] = DURATION_BUCKETS): Histogram => declared(name, () => new Histogram(name, help, bounds));

/** Every declared metric in the Prometheus text format. */
export function renderMetrics(): string {
  return [...families.values()].flatMap((family) => family.render()).join('\n') + '\n';
}
