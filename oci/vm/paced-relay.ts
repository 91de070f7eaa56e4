import type { Readable } from 'node:stream';

/** Where relayed bytes go: each write settles once the other side took them. */
export interface PacedSink {
  write(chunk: Buffer): Promise<void>;
  /** The source ended; absent when its end means nothing to the other side. */
  end?(): Promise<void>;
}

/**
 * Moves what `source` reads to `sink` one chunk at a time, in order, with the source paused
 * while a chunk is on its way: a fast client cannot pile up calls to the guest. Returns the
 * function that stops relaying.
 */
export function relayPaced(source: Readable, sink: PacedSink, onError: (error: unknown) => void): () => void {
  let stopped = false;
  let chain = Promise.resolve();
  const onData = (chunk: Buffer | string): void => {
    source.pause();
    chain = chain
      .then(() => sink.write(Buffer.from(chunk)))
      .then(() => {
        if (!stopped) source.resume();
      })
      .catch((error: unknown) => {
        if (!stopped) onError(error);
      });
  };
  const onEnd = (): void => {
    const { end } = sink;
    if (!end) return;
    chain = chain.then(() => end.call(sink)).catch((error: unknown) => {
      if (!stopped) onError(error);
    });
  };
  source.on('data', onData);
  source.once('end', onEnd);
  return () => {
    stopped = true;
    source.off('data', onData);
    source.off('end', onEnd);
  };
}
