import type { DaemonProcess } from '../testbed/daemon-process';
import type { BenchNetwork } from './cni-network';

export const RUNTIME_NAMES = ['podvisor', 'containerd'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** A runtime the bench started and drives through its CRI socket. */
export interface RuntimeUnderTest {
  name: RuntimeName;
  daemon: DaemonProcess;
  /** The CRI socket. */
  socket: string;
  /** Starts the daemon again on the same directory, for cleaning up after it died. */
  relaunch(): Promise<DaemonProcess>;
  /** Holds everything of this runtime's; in the command line of every process it leaves per pod. */
  dir: string;
  network: BenchNetwork;
}
