import { CONTAINER_LIFECYCLE, CREATE_AND_START, POD_LIFECYCLE } from './lifecycle';
import { NETWORK_FLOOR } from './network-floor';
import { READ_LABELS, READ_PHASES } from './read-calls';
import { figureOf, quotient, timesText, type RuntimeResult } from './report';
import { DAEMON_RSS_IDLE, DAEMON_RSS_WITH } from './scale';
import type { Summary } from './stats';
import { target, targetTable } from './targets';

/** Issue 19's goals: Podvisor's figure over containerd's at most these, the pod lifecycle at most this far above the pod network alone. */
export const READ_RATIO_GOAL = 1;
export const CONTAINER_LIFECYCLE_RATIO_GOAL = 0.6;
export const RSS_RATIO_GOAL = 1;
export const POD_LIFECYCLE_OVER_FLOOR_GOAL_MS = 25;
/** critest's benchmark: a removal at most this over containerd's; CreateContainer + StartContainer at most containerd's. */
export const REMOVAL_RATIO_GOAL = 1.5;
export const CREATE_AND_START_RATIO_GOAL = 1;
export const REMOVALS = ['RemoveContainer', 'RemoveImage'];

type Reading = (result: RuntimeResult) => number | undefined;

/** Issue 19's targets beside what this run measured; a dash where a runtime or a figure is missing (--only, no --scale). */
export function issue19Table(results: RuntimeResult[], floor: Map<string, Summary>): string {
  const podvisor = results.find((result) => result.name === 'podvisor');
  const containerd = results.find((result) => result.name === 'containerd');
  const read = (result: RuntimeResult | undefined, reading: Reading): number | undefined => (result === undefined ? undefined : reading(result));
  const versus = (label: string, reading: Reading, goal: number): string[] =>
    target(`${label} / containerd's`, quotient(read(podvisor, reading), read(containerd, reading)), timesText, `<= ${timesText(goal)}`, (value) => value <= goal);
  const median = (label: string): Reading => (result) => result.latencies.get(label)?.median;
  const figure = (label: string): Reading => (result) => figureOf(result, label);

  const podLifecycle = podvisor?.latencies.get(POD_LIFECYCLE)?.median;
  const networkFloor = floor.get(NETWORK_FLOOR)?.median;
  const overFloor = podLifecycle === undefined || networkFloor === undefined ? undefined : podLifecycle - networkFloor;
  const scaledRss = podvisor?.figures.find((candidate) => candidate.label.startsWith(DAEMON_RSS_WITH))?.label ?? `${DAEMON_RSS_WITH}--scale pods`;
  const rows = [
    ...READ_LABELS.flatMap((label) => READ_PHASES.map((phase) => versus(`${label} ${phase}`, (result) => result.reads[phase].get(label)?.median, READ_RATIO_GOAL))),
    ...REMOVALS.map((label) => versus(label, median(label), REMOVAL_RATIO_GOAL)),
    versus(CREATE_AND_START, median(CREATE_AND_START), CREATE_AND_START_RATIO_GOAL),
    versus(CONTAINER_LIFECYCLE, median(CONTAINER_LIFECYCLE), CONTAINER_LIFECYCLE_RATIO_GOAL),
    target(`${POD_LIFECYCLE} - ${NETWORK_FLOOR}`, overFloor, (value) => `${value.toFixed(1)} ms`, `<= ${POD_LIFECYCLE_OVER_FLOOR_GOAL_MS} ms`, (value) => value <= POD_LIFECYCLE_OVER_FLOOR_GOAL_MS),
    versus(DAEMON_RSS_IDLE, figure(DAEMON_RSS_IDLE), RSS_RATIO_GOAL),
    versus(scaledRss, figure(scaledRss), RSS_RATIO_GOAL),
  ];
  return targetTable('issue 19', rows);
}
