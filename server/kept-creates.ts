// Creations whose client gave up. The kubelet abandons a RunPodSandbox or CreateContainer at its
// deadline and sends the same request again; the first one still runs to the end here. Its
// result is kept, keyed by the name the request reserves, and the retry gets it (waiting for it
// if it is still being made) instead of "name is reserved". A result nobody claims is removed
// after a while, and any call that names the object's ID claims it as surely as a retry.
import { AlreadyExistsError, errorMessage } from '../system/errors';
import type { Logger } from '../system/logger';
import { removeContainerRecord } from './container-lifecycle';
import type { ServerContext } from './context';
import { withContainerIfAny, withPodIfAny } from './object-order';
import { removePod } from './pod-teardown';

/** What a create knows of its call. */
export interface CallerState {
  /** The client stopped waiting: it cancelled, or its deadline passed. */
  clientGone(): boolean;
}

interface Creation {
  /** The request as JSON (its proto3 JSON form). */
  request: unknown;
  callers: CallerState[];
  id?: string;
  result: Promise<string>;
  expiry?: NodeJS.Timeout;
}

export interface KeptCreatesOptions {
  /** "pod sandbox" or "container", for messages. */
  kind: string;
  logger: Logger;
  /** How long a result nobody claimed is kept. */
  keepMs: () => number;
  /** Removes an object nobody claimed. */
  discard: (id: string) => Promise<void>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The first place (a dotted path) where two JSON values differ; undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (a === b) return undefined;
  if (!isObject(a) || !isObject(b) || Array.isArray(a) !== Array.isArray(b)) return path || '(the whole request)';
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of [...keys].sort()) {
    const inner = firstDifference(a[key], b[key], path ? `${path}.${key}` : key);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

export class KeptCreates {
  private readonly creations = new Map<string, Creation>();

  constructor(private readonly options: KeptCreatesOptions) {}

  /**
   * Creates the object `name` stands for with `create`, unless the same request is being made
   * or was made for a client that gave up: then that creation's ID. The same name asked with a
   * request that differs is refused, naming the first field that differs.
   */
  run(name: string, request: unknown, caller: CallerState, create: () => Promise<string>): Promise<string> {
    const known = this.creations.get(name);
    if (known) return this.join(name, known, request, caller);
    const creation: Creation = { request, callers: [caller], result: create() };
    this.creations.set(name, creation);
    creation.result.then(
      (id) => {
        creation.id = id;
        if (creation.callers.some((waiting) => !waiting.clientGone())) this.creations.delete(name);
        else this.keep(name, creation);
      },
      () => this.creations.delete(name),
    );
    return creation.result;
  }

  /** Any call naming `idOrPrefix` knows the object: it is no longer removed for want of a claim. */
  claim(idOrPrefix: string): void {
    for (const [name, creation] of this.creations) {
      if (creation.expiry && creation.id?.startsWith(idOrPrefix)) this.claimed(name, creation, 'a call naming it');
    }
  }

  private join(name: string, creation: Creation, request: unknown, caller: CallerState): Promise<string> {
    const differs = firstDifference(creation.request, request);
    if (differs !== undefined) {
      const holder = creation.id ?? 'a creation still under way';
      throw new AlreadyExistsError(`${this.options.kind} name "${name}" is reserved by ${holder}, made from a request that differs in ${differs}`);
    }
    if (creation.expiry) {
      this.claimed(name, creation, 'a retry');
      return creation.result;
    }
    creation.callers.push(caller);
    this.options.logger.info('a retry waits for the creation under way', { kind: this.options.kind, name });
    return creation.result;
  }

  private keep(name: string, creation: Creation): void {
    const keepMs = this.options.keepMs();
    const { kind, logger } = this.options;
    logger.warn('created for a client that gave up: kept for its retry', { kind, name, id: creation.id, keep_ms: keepMs });
    creation.expiry = setTimeout(() => {
      this.creations.delete(name);
      logger.warn('removing what was created for a client that gave up: nobody claimed it', { kind, name, id: creation.id, kept_ms: keepMs });
      const id = creation.id ?? '';
      this.options.discard(id).catch((error: unknown) => logger.error('cannot remove an unclaimed creation', { kind, name, id, error: errorMessage(error) }));
    }, keepMs);
    creation.expiry.unref();
  }

  private claimed(name: string, creation: Creation, by: string): void {
    clearTimeout(creation.expiry);
    this.creations.delete(name);
    this.options.logger.info('a kept creation was claimed', { kind: this.options.kind, name, id: creation.id, by });
  }
}

/** The daemon's two: pods and containers, each removed as its verb would remove it. */
export function keptCreates(logger: Logger, ctx: () => ServerContext): ServerContext['kept'] {
  const options = (kind: string, discard: (id: string) => Promise<void>): KeptCreatesOptions => ({
    kind,
    logger,
    keepMs: () => ctx().config.unclaimed_result_seconds * 1000,
    discard,
  });
  return {
    pods: new KeptCreates(options('pod sandbox', (id) => withPodIfAny(ctx(), id, (pod) => removePod(ctx(), pod)))),
    containers: new KeptCreates(options('container', (id) => withContainerIfAny(ctx(), id, (container) => removeContainerRecord(ctx(), container)))),
  };
}
