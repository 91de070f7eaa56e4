import { once } from 'node:events';
import WebSocket from 'ws';
import { withTimeout } from '../system/with-timeout';
import { KIB_PER_MIB } from './scale';

/** The node flag that opens a daemon's inspector on a loopback port of the kernel's choosing; it prints the address. */
export const INSPECT_FLAG = '--inspect=127.0.0.1:0';
// A full collection of a daemon's heap takes well under a second; this is room for a loaded machine.
const INSPECTOR_TIMEOUT_MS = 30_000;
const BYTES_PER_MIB = 1024 * KIB_PER_MIB;

/** A node process's memory right after a full garbage collection. */
export interface HeapReading {
  /** Everything live on the V8 heap. */
  heapUsedMib: number;
  /** Of that, machine code V8 compiled (its code spaces): it grows as more functions get hot and are optimized, and shrinks as unused code is flushed. */
  codeMib: number;
  /** Memory outside the heap that its objects hold: Buffers and other array buffers. */
  externalMib: number;
  /** Live JavaScript objects by kind (LIVE_OBJECT_KINDS). */
  objects: Map<LiveObjectKind, number>;
}

/**
 * The kinds of live JavaScript objects counted, by the constructor whose prototype they have:
 * every object (Object), and what a leak piles up most often (a listener, an entry, a pending
 * wait). A few bytes left per pod add up to no figure of memory in a soak's thousands of pods,
 * but to a count of objects that grows with them.
 */
export const LIVE_OBJECT_KINDS = ['Object', 'Function', 'Array', 'Map', 'Set', 'Promise'] as const;
export type LiveObjectKind = (typeof LIVE_OBJECT_KINDS)[number];
const OBJECT_GROUP = 'podvisor-bench';

// Evaluated in the daemon: its memory usage and the V8 heap's spaces (v8 found without `require`, which CommonJS modules alone have).
const MEMORY_EXPRESSION = `({
  usage: process.memoryUsage(),
  spaces: (process.getBuiltinModule ? process.getBuiltinModule('v8') : process.mainModule.require('v8')).getHeapSpaceStatistics(),
})`;
const CODE_SPACES = new Set(['code_space', 'code_large_object_space']);

/** The inspector's address in a node process's output (INSPECT_FLAG makes it print one). */
export function inspectorAddress(output: string): string {
  const match = /Debugger listening on (ws:\/\/\S+)/.exec(output);
  if (match === null) throw new Error('the daemon printed no inspector address');
  return match[1];
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** One inspector session: protocol calls answered by id. */
class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      const message: unknown = JSON.parse(data.toString());
      const waiter = this.pending.get(Number(field(message, 'id')));
      if (waiter === undefined) return;
      this.pending.delete(Number(field(message, 'id')));
      const error = field(message, 'error');
      if (error === undefined) waiter.resolve(field(message, 'result'));
      else waiter.reject(new Error(`inspector: ${String(field(error, 'message'))}`));
    });
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(JSON.stringify({ id, method, params }));
    return withTimeout(answer, INSPECTOR_TIMEOUT_MS, `the inspector did not answer ${method}`);
  }
}

/** How many live objects have `kind`'s prototype in their chain. */
async function liveObjects(session: InspectorSession, kind: LiveObjectKind): Promise<number> {
  try {
    const prototype = await session.call('Runtime.evaluate', { expression: `${kind}.prototype`, objectGroup: OBJECT_GROUP });
    const found = await session.call('Runtime.queryObjects', { prototypeObjectId: field(field(prototype, 'result'), 'objectId'), objectGroup: OBJECT_GROUP });
    const length = await session.call('Runtime.callFunctionOn', { objectId: field(field(found, 'objects'), 'objectId'), functionDeclaration: 'function () { return this.length; }', returnByValue: true });
    const count = field(field(length, 'result'), 'value');
    if (typeof count !== 'number') throw new Error(`the inspector counted no ${kind} objects: ${JSON.stringify(length)}`);
    return count;
  } finally {
    // The answers hold what they found until released.
    await session.call('Runtime.releaseObjectGroup', { objectGroup: OBJECT_GROUP });
  }
}

/**
 * Has the node process whose inspector is at `address` collect all its garbage (what V8 does
 * when the system runs low on memory: full collections, compaction, unused pages returned),
 * then reads what it still holds, and counts its live objects.
 */
export async function heapAfterGc(address: string): Promise<HeapReading> {
  const socket = new WebSocket(address);
  try {
    await withTimeout(once(socket, 'open'), INSPECTOR_TIMEOUT_MS, `cannot reach the inspector at ${address}`);
    const session = new InspectorSession(socket);
    await session.call('HeapProfiler.collectGarbage');
    const evaluated = await session.call('Runtime.evaluate', { expression: MEMORY_EXPRESSION, returnByValue: true });
    const value = field(field(evaluated, 'result'), 'value');
    const heapUsed = field(field(value, 'usage'), 'heapUsed');
    const external = field(field(value, 'usage'), 'external');
    const spaces = field(value, 'spaces');
    if (typeof heapUsed !== 'number' || typeof external !== 'number' || !Array.isArray(spaces)) throw new Error(`the daemon's memory figures are not what node gives: ${JSON.stringify(value)}`);
    const code = spaces.filter((space) => CODE_SPACES.has(String(field(space, 'space_name')))).reduce((sum: number, space) => sum + Number(field(space, 'space_used_size')), 0);
    const objects = new Map<LiveObjectKind, number>();
    for (const kind of LIVE_OBJECT_KINDS) objects.set(kind, await liveObjects(session, kind));
    return { heapUsedMib: heapUsed / BYTES_PER_MIB, codeMib: code / BYTES_PER_MIB, externalMib: external / BYTES_PER_MIB, objects };
  } finally {
    socket.close();
  }
}
