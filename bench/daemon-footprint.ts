import { readdir, readlink } from 'node:fs/promises';
import { errorCode } from '../system/error-code';
import { listProcesses, rssKib, runtimeProcesses } from './processes';
import { KIB_PER_MIB } from './scale';

/** What a daemon holds at one moment: its memory, its open files, and the processes it keeps. */
export interface DaemonFootprint {
  rssMib: number;
  fds: number;
  /** Open descriptors by kind: socket, pipe, eventpoll, /dev/null, file... */
  fdKinds: Map<string, number>;
  /** The processes it keeps (runtimeProcesses), counted by command name. */
  processes: Map<string, number>;
}

/** What kind of file a /proc/PID/fd link names: sockets and pipes by kind, anonymous inodes by what they are, /dev by path, the rest as files. */
export function fdKind(link: string): string {
  const special = /^(socket|pipe):\[/.exec(link) ?? /^anon_inode:\[?([^\]]+)\]?$/.exec(link);
  if (special) return special[1];
  if (link.startsWith('/dev/')) return link.startsWith('/dev/pts/') ? '/dev/pts' : link;
  return 'file';
}

async function openFiles(pid: number): Promise<string[]> {
  const dir = `/proc/${pid}/fd`;
  const links = await Promise.all(
    (await readdir(dir)).map((fd) =>
      readlink(`${dir}/${fd}`).catch((error: unknown) => {
        // Closed between the listing and the read.
        if (errorCode(error) === 'ENOENT') return undefined;
        throw error;
      }),
    ),
  );
  return links.filter((link): link is string => link !== undefined);
}

/** How many of each: the counts of `names`, by name. */
export function countNames(names: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/** The daemon's footprint now; `marker` is its scratch directory (see runtimeProcesses). */
export async function readDaemonFootprint(daemonPid: number, marker: string): Promise<DaemonFootprint> {
  const [rss, links, all] = await Promise.all([rssKib(daemonPid), openFiles(daemonPid), listProcesses()]);
  return {
    rssMib: rss / KIB_PER_MIB,
    fds: links.length,
    fdKinds: countNames(links.map(fdKind)),
    processes: countNames(runtimeProcesses(all, daemonPid, marker).map((info) => info.comm)),
  };
}
