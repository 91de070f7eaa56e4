import { InvalidArgumentError } from '../system/errors';

/** Thrown for a layer that tries to write outside its directory or is otherwise unusable; names the tar entry. */
export class UnsafeLayerError extends InvalidArgumentError {}

/**
 * An entry name for a message. Names are carried as byte strings (see layer-paths.ts); they are shown
 * as UTF-8 and JSON-quoted so control characters in a hostile name cannot forge log lines.
 */
export function quoteName(name: string): string {
  return JSON.stringify(Buffer.from(name, 'latin1').toString('utf8'));
}

/** The error for entry `name`, e.g. `layer entry "../x" escapes the layer directory`. */
export function unsafeEntry(name: string, problem: string): UnsafeLayerError {
  return new UnsafeLayerError(`layer entry ${quoteName(name)} ${problem}`);
}
