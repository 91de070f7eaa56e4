import { commandLine, processIds, readProcessFile } from '../system/process-list';
import { readStat } from '../system/process-stat';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
  cpuTicks: number;
}

/** Every process on the host (those that exit while being read are left out). */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const found = await Promise.all(
    (await processIds()).map(async (pid): Promise<ProcessInfo | undefined> => {
      const [stat, argv] = await Promise.all([readStat(pid), commandLine(pid)]);
      if (stat === undefined || argv === undefined) return undefined;
      return { pid, ppid: stat.ppid, comm: stat.comm, cmdline: argv.join(' ').trim(), cpuTicks: stat.cpuTicks };
    }),
  );
  return found.filter((info): info is ProcessInfo => info !== undefined);
}

function descendantsOf(all: readonly ProcessInfo[], roots: readonly number[]): Set<number> {
  const found = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of all) {
      if (!found.has(info.pid) && found.has(info.ppid)) {
        found.add(info.pid);
        grew = true;
      }
    }
  }
  return found;
}

/**
 * The processes a runtime keeps per pod, besides the daemon: the monitors it leaves behind
 * (conmon, containerd's shims), recognised by `marker` (the bench's scratch directory) in their
 * command line, and everything they started, minus the containers' own workload (`workload`
 * names its executables) and minus the daemon and its short-lived children.
 */
export function perPodProcesses(all: readonly ProcessInfo[], marker: string, daemonPid: number, workload: readonly string[]): ProcessInfo[] {
  const daemonTree = descendantsOf(all, [daemonPid]);
  const monitors = all.filter((info) => info.cmdline.includes(marker) && !daemonTree.has(info.pid)).map((info) => info.pid);
  const tree = descendantsOf(all, monitors);
  return all.filter((info) => tree.has(info.pid) && !workload.includes(info.comm));
}

/** Every process started from under `marker` (monitors and what runs below them), for a last-resort kill. */
export function processesUnder(all: readonly ProcessInfo[], marker: string): number[] {
  return [...descendantsOf(all, all.filter((info) => info.cmdline.includes(marker)).map((info) => info.pid))];
}

/**
 * Every process a daemon keeps, besides itself: all it started (its descendants), and what left
 * its tree but runs from under `marker` (a monitor that daemonized, and what runs below it).
 */
export function runtimeProcesses(all: readonly ProcessInfo[], daemonPid: number, marker: string): ProcessInfo[] {
  const kept = new Set([...descendantsOf(all, [daemonPid]), ...processesUnder(all, marker)]);
  kept.delete(daemonPid);
  return all.filter((info) => kept.has(info.pid));
}

async function kibField(pid: number, file: string, field: string): Promise<number> {
  const text = (await readProcessFile(pid, file)) ?? '';
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** Proportional set size: private pages plus an equal share of pages shared with others. */
export function pssKib(pid: number): Promise<number> {
  return kibField(pid, 'smaps_rollup', 'Pss');
}

/** The PSS of all of `pids` together. */
export async function totalPssKib(pids: readonly number[]): Promise<number> {
  return (await Promise.all(pids.map((pid) => pssKib(pid)))).reduce((sum, kib) => sum + kib, 0);
}

/** Whether a /proc/PID/cgroup text puts the process in `path` or below it, in any hierarchy. */
export function inCgroup(cgroupFile: string, path: string): boolean {
  return cgroupFile.split('\n').some((line) => {
    const member = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    return member === path || member.startsWith(`${path}/`);
  });
}

/**
 * A pod's processes on the host: those in its cgroup or below (conmon and the containers of a
 * runc pod, the QEMU of a VM pod), minus the containers' own workload (`workload` names its
 * executables).
 */
export async function podProcesses(all: readonly ProcessInfo[], cgroupPath: string, workload: readonly string[]): Promise<ProcessInfo[]> {
  const members = await Promise.all(all.map(async (info) => inCgroup((await readProcessFile(info.pid, 'cgroup')) ?? '', cgroupPath)));
  return all.filter((info, index) => members[index] && !workload.includes(info.comm));
}

export function rssKib(pid: number): Promise<number> {
  return kibField(pid, 'status', 'VmRSS');
}
