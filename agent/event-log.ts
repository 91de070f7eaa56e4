import type { Event, Frame } from '../proto/gen/agent';
import { encodeFrame } from './protocol/frame-codec';

// Unacknowledged output beyond this makes the agent stop reading the processes' pipes, so
// they wait to write: a daemon that is down for long loses nothing, and the guest does not run
// out of memory holding it.
const MAX_UNACKNOWLEDGED_BYTES = 8 * 1024 * 1024;

interface Entry {
  seq: bigint;
  frame: Buffer;
}

/**
 * The events the host has not acknowledged yet. Bytes written to the virtio-serial port while
 * no host listens are gone, so every event stays here until the host says it has handled it,
 * and a host that resumes (the daemon restarted) gets them all again.
 */
export class EventLog {
  private readonly entries: Entry[] = [];
  private bytes = 0;
  private nextSeq = 1n;
  private waiters: (() => void)[] = [];

  constructor(private readonly send: (frame: Buffer) => void) {}

  push(event: Omit<Event, 'seq'>): void {
    const frame = encodeFrame({ event: { ...event, seq: this.nextSeq } } satisfies Frame);
    this.entries.push({ seq: this.nextSeq, frame });
    this.nextSeq += 1n;
    this.bytes += frame.length;
    this.send(frame);
  }

  acknowledge(upTo: bigint): void {
    while (this.entries.length > 0 && this.entries[0].seq <= upTo) this.bytes -= (this.entries.shift() as Entry).frame.length;
    if (this.bytes < MAX_UNACKNOWLEDGED_BYTES && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }

  resume(): void {
    for (const entry of this.entries) this.send(entry.frame);
  }

  /** Resolves once the unacknowledged events are below the bound again (at once if they are). */
  drained(): Promise<void> {
    if (this.bytes < MAX_UNACKNOWLEDGED_BYTES) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
