import { POD_START } from './lifecycle';
import { COLD_MODE, IDLE_PSS, POD_MODES, RUNC_MODE, TEMPLATE_MODE, WARM_MODE, type PodMode } from './pod-modes';
import { QEMU_FLOOR } from './qemu-floor';
import { figureOf, figureTable, figureValue, latencyTable, quotient, ratio, summaryTable, timesText } from './report';
import { target, targetTable } from './targets';
import type { VmResult } from './vm-session';
import { DAEMON_CPU, EXEC_ANSWERING, POPULATION_PSS_PER_POD } from './vm-population';

function startMedian(vm: VmResult, mode: PodMode): number | undefined {
  return vm.modes.find((measured) => measured.name === mode.name)?.latencies.get(POD_START)?.median;
}

/** Issue 16's targets beside what this run measured. */
function issue16Table(vm: VmResult): string {
  const pss = (mode: PodMode): number | undefined => figureOf(vm.modes.find((measured) => measured.name === mode.name), IDLE_PSS);
  const mib = (value: number): string => `${figureValue(value)} MiB`;
  const { population, populationPods: pods } = vm;
  const rows = [
    target(`${TEMPLATE_MODE.name} ${POD_START} / ${RUNC_MODE.name}'s`, quotient(startMedian(vm, TEMPLATE_MODE), startMedian(vm, RUNC_MODE)), timesText, '<= 4x', (value) => value <= 4),
    target(`${COLD_MODE.name} ${POD_START} / ${QEMU_FLOOR}`, quotient(startMedian(vm, COLD_MODE), vm.floor.get(QEMU_FLOOR)?.median), timesText, '<= 1.5x', (value) => value <= 1.5),
    target(`PSS per idle ${TEMPLATE_MODE.name} pod`, pss(TEMPLATE_MODE), mib, '<= 40 MiB', (value) => value <= 40),
    target(`PSS per ${TEMPLATE_MODE.name} pod, ${population.name}`, figureOf(population, POPULATION_PSS_PER_POD), mib, '<= 40 MiB', (value) => value <= 40),
    target(`PSS per idle ${COLD_MODE.name} pod`, pss(COLD_MODE), mib, '<= 130 MiB', (value) => value <= 130),
    target(`${DAEMON_CPU}, ${population.name}`, figureOf(population, DAEMON_CPU), (value) => `${figureValue(value)} % core`, '< 1 % core', (value) => value < 1),
    target(`${EXEC_ANSWERING}, ${population.name}`, figureOf(population, EXEC_ANSWERING), (value) => `${value}/${pods}`, `${pods}/${pods}`, (value) => value === pods),
  ];
  return targetTable('issue 16', rows);
}

function describeMode(mode: PodMode): string {
  if (mode.type === 'oci') return `${mode.name} (oci)`;
  return `${mode.name} (vm, template = ${String(mode.template ?? true)}, warm_clones = ${mode.warmClones ?? 0})`;
}

/** The VM tables as printed after a run and written into bench/README.md. */
export function vmResultText(vm: VmResult): string {
  const versus = (mode: PodMode) => ({ title: `${mode.name} / ${RUNC_MODE.name}`, over: mode.name, under: RUNC_MODE.name });
  const coldStart = startMedian(vm, COLD_MODE);
  return [
    `VM pods, accelerator ${vm.accelerator}; handlers: ${POD_MODES.map(describeMode).join(', ')}`,
    latencyTable(vm.modes, [versus(COLD_MODE), versus(TEMPLATE_MODE), versus(WARM_MODE)]),
    figureTable(vm.modes, []),
    summaryTable('VM floor, no daemon (ms)', vm.floor, { title: `${COLD_MODE.name} ${POD_START} / median`, of: (median) => ratio(coldStart, median) }),
    figureTable([vm.population], []),
    issue16Table(vm),
  ].join('\n\n');
}
