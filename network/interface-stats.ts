import { stat } from 'node:fs/promises';
import { readKernelFile } from '../system/kernel-files';
import { runToolChecked } from '../system/run-tool';

/** One network interface's cumulative counters, as the kernel keeps them. */
export interface InterfaceCounters {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

// Reading a proc file in a namespace takes milliseconds; a slow one is stuck, not busy.
const READ_TIMEOUT_MS = 5_000;

// /proc/net/dev columns after "name:": 8 receive counters, then 8 transmit counters.
const RX = { bytes: 0, packets: 1, errors: 2, dropped: 3 };
const TX_OFFSET = 8;

/** The interfaces of /proc/net/dev text, loopback left out (it carries no pod traffic, and cAdvisor leaves it out too). */
export function parseNetDev(text: string): InterfaceCounters[] {
  const interfaces: InterfaceCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (name === 'lo' || fields.length < 16) continue;
    const at = (index: number): bigint => BigInt(fields[index]);
    interfaces.push({
      name,
      rxBytes: at(RX.bytes),
      rxPackets: at(RX.packets),
      rxErrors: at(RX.errors),
      rxDropped: at(RX.dropped),
      txBytes: at(TX_OFFSET + RX.bytes),
      txPackets: at(TX_OFFSET + RX.packets),
      txErrors: at(TX_OFFSET + RX.errors),
      txDropped: at(TX_OFFSET + RX.dropped),
    });
  }
  return interfaces;
}

/**
 * /proc/PID/net/dev of the first of `pids` that is in the namespace; undefined when none is. The
 * namespace is checked after the read: a pid that ended and was reused meanwhile is no answer.
 */
async function readThroughMember(netns: string, pids: number[]): Promise<string | undefined> {
  const namespace = pids.length === 0 ? undefined : await stat(netns).catch(() => undefined);
  if (namespace === undefined) return undefined;
  for (const pid of pids) {
    const text = await readKernelFile(`/proc/${pid}/net/dev`).catch(() => undefined);
    const member = text === undefined ? undefined : await stat(`/proc/${pid}/ns/net`).catch(() => undefined);
    if (member !== undefined && member.ino === namespace.ino && member.dev === namespace.dev) return text;
  }
  return undefined;
}

/**
 * The counters of every interface in a network namespace (its bind-mounted file). /proc/net/dev
 * answers for the reader's own namespace, and Node cannot enter one (setns acts on one thread
 * of many): it is read through a process among `pids` that is in the namespace (the pod's
 * containers), a file read where a program would cost a fork; without one, cat reads it from
 * inside.
 */
export async function namespaceInterfaces(netns: string, pids: number[]): Promise<InterfaceCounters[]> {
  const text =
    (await readThroughMember(netns, pids)) ??
    (await runToolChecked('nsenter', [`--net=${netns}`, '--', 'cat', '/proc/net/dev'], { timeoutMs: READ_TIMEOUT_MS, what: `reading interface counters in ${netns}` }));
  return parseNetDev(text);
}
