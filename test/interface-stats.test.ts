import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { namespaceInterfaces } from '../network/interface-stats';
import { waitUntil } from '../system/wait-until';
import { command, inNetns } from './support/net-tools';

// A network namespace of its own, with an interface the host does not have, and a process in it.
describe('namespaceInterfaces', () => {
  const name = `pv-ifstats-${randomBytes(4).toString('hex')}`;
  const netns = `/run/netns/${name}`;
  let member: ChildProcess;

  beforeAll(async () => {
    await command('ip', ['netns', 'add', name]);
    await inNetns(netns, ['ip', 'link', 'add', 'only-here', 'type', 'veth', 'peer', 'name', 'also-here']);
    member = spawn('nsenter', [`--net=${netns}`, '--', 'sleep', '300'], { stdio: 'ignore' });
    // nsenter has joined the namespace once it runs sleep.
    await waitUntil(async () => (await command('cat', [`/proc/${member.pid}/comm`])).trim() === 'sleep', 10_000, 20);
  });

  afterAll(async () => {
    member?.kill('SIGKILL');
    if (member?.exitCode === null) await once(member, 'exit');
    await command('ip', ['netns', 'delete', name]);
  });

  const names = async (pids: number[]): Promise<string[]> => (await namespaceInterfaces(netns, pids)).map((counters) => counters.name).sort();

  test("the namespace's interfaces are read through a process in it, and never through one outside it", async () => {
    expect(await names([process.pid, member.pid ?? 0])).toEqual(['also-here', 'only-here']);
    // Only processes outside it, or none at all: read from inside all the same.
    expect(await names([process.pid])).toEqual(['also-here', 'only-here']);
    expect(await names([])).toEqual(['also-here', 'only-here']);
  });
});
