// The tool thread's entry: does for the daemon what would otherwise hold up its replies. Node
// forks a child on the thread that spawns it and waits there until the child has exec'd,
// milliseconds on a busy host; a file the kernel makes up as it is read, or a tree of files
// walked, costs a synchronous call microseconds where an asynchronous one costs the main thread
// a round trip to libuv's pool per call.
import { serveJobs } from './job-thread';
import { abandonSpawned, releaseSpawned, spawnGated, type GatedLaunch, type GatedRelease } from './gated-launch';
import { readKernelFilesSync, type KernelFileRead } from './kernel-files';
import type { ToolOptions, ToolOutcome } from './run-tool';
import { spawnTool } from './spawn-tool';
import { treeUsageSync, type TreeUsage } from './tree-usage';

export interface ToolRun {
  file: string;
  args: string[];
  options: ToolOptions;
}

/** What the tool thread does: run a program to its end, read kernel files, walk a tree, launch a gated program and let it go (or abandon it). */
export type ToolJobs = {
  run: [ToolRun, ToolOutcome];
  read: [string[], KernelFileRead[]];
  walk: [string, TreeUsage];
  launch: [GatedLaunch, number];
  release: [GatedRelease, string | undefined];
  abandon: [number, void];
};

serveJobs<ToolJobs>({
  run: (job) => spawnTool(job.file, job.args, job.options),
  read: async (paths) => readKernelFilesSync(paths),
  walk: async (dir) => treeUsageSync(dir),
  launch: spawnGated,
  release: releaseSpawned,
  abandon: abandonSpawned,
});
