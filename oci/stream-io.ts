import type { Duplex, Readable, Writable } from 'node:stream';

/** A terminal's size in character cells, as a client reports it on resize. */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The client's side of an exec or attach: the streams it opened and how it goes away. Output
 * is written with back-pressure honoured (a slow reader slows the process, nothing piles up);
 * the handler does not end stdout and stderr: the caller does once the call has settled.
 */
export interface StreamIO {
  /** What the client sends; its end is EOF for the process. Absent: the process gets no stdin. */
  stdin: Readable | undefined;
  stdout: Writable | undefined;
  /** Unused with a tty: a terminal has only one output. */
  stderr: Writable | undefined;
  tty: boolean;
  /**
   * Sizes the client reports, the first one as soon as it knows it (tty only). Kept until read:
   * the handler starts reading only once the process's terminal is being set up.
   */
  resizes: AsyncIterable<TerminalSize> | undefined;
  /** Aborted when the client goes away: an exec'd process is killed, an attach detaches. */
  signal: AbortSignal;
}

/**
 * One forwarded connection: bytes to and from a port on localhost inside the pod. The end of
 * what the client sends half-closes the connection; the handler ends `stream` when the pod side
 * closes.
 */
export interface ForwardedConnection {
  port: number;
  stream: Duplex;
  signal: AbortSignal;
}
