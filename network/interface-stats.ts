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
 * The counters of every interface in a network namespace (its bind-mounted file). /proc/net/dev
 * answers for the reader's own namespace, and Node cannot enter one (setns acts on one thread
 * of many), so cat reads it from inside.
 */
export async function namespaceInterfaces(netns: string): Promise<InterfaceCounters[]> {
  const text = await runToolChecked('nsenter', [`--net=${netns}`, '--', 'cat', '/proc/net/dev'], { timeoutMs: READ_TIMEOUT_MS, what: `reading interface counters in ${netns}` });
  return parseNetDev(text);
}
