/** The figures the report prints for one verb: how many calls, their median and 90th percentile. */
export interface Summary {
  count: number;
  median: number;
  p90: number;
}

/**
 * The `fraction` quantile of `values` (0.5: median), interpolating linearly between the two
 * nearest ranks, so an even count's median is the mean of the middle two.
 */
export function quantile(values: readonly number[], fraction: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * fraction;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export function summarize(values: readonly number[]): Summary {
  return { count: values.length, median: quantile(values, 0.5), p90: quantile(values, 0.9) };
}
