import { formatTable, NONE } from './report';

/** One target row: what was measured against it (a dash when nothing was), the goal, and whether it was met. */
export function target(label: string, value: number | undefined, shown: (value: number) => string, goal: string, met: (value: number) => boolean): string[] {
  return [label, value === undefined ? NONE : shown(value), goal, value === undefined ? NONE : met(value) ? 'yes' : 'no'];
}

/** An issue's targets beside what the run measured. */
export function targetTable(issue: string, rows: string[][]): string {
  return formatTable([`${issue} target`, 'measured', 'target', 'met'], rows);
}
