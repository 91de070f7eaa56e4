import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WARMUP_CALLS } from './loops';
import { POD_LIFECYCLE } from './lifecycle';
import { figureTable, floorTable, latencyTable, type RuntimeResult } from './report';
import type { Summary } from './stats';

// The source tree's bench/README.md, from dist/bench/.
export const README_PATH = join(__dirname, '..', '..', 'bench', 'README.md');

export interface RunRecord {
  date: string;
  machine: string;
  command: string;
  results: RuntimeResult[];
  /** The pod network alone, per step (network-floor.ts). */
  floor: Map<string, Summary>;
}

/** The tables as printed after a run, each runtime's version first. */
export function resultText(run: RunRecord): string {
  const versions = run.results.map((result) => `${result.name}: ${result.version}`).join('; ');
  const figures = run.results.some((result) => result.figures.length > 0) ? `\n\n${figureTable(run.results)}` : '';
  const floor = run.floor.size > 0 ? `\n\n${floorTable(run.floor, run.results, POD_LIFECYCLE)}` : '';
  return `${versions}\n\n${latencyTable(run.results)}${figures}${floor}\n`;
}

/** bench/README.md: what the bench does and how to run it, then the last results written. */
export function readmeText(run: RunRecord): string {
  return `# Benchmark: Podvisor beside containerd

\`npm run bench\` (from the repository root, as root, after the setup in the top-level README)
installs Debian's containerd if it is missing, builds, and then measures podvisord and
containerd 1.6 one after the other on this machine (with \`--rounds N\`, in N rounds that
alternate which goes first and share out the work, so drift in the machine's speed weighs on
both alike), each driven through its CRI socket by the bench's own gRPC client with identical
requests. It starts everything it uses and removes it
again, also on Ctrl-C or a failure: a docker-registry on a free loopback port holding a busybox
image, an image pulled in the pull loop and a pause image (containerd's sandbox image, built
from \`oci/conmon/pause/pause.c\`); podvisord from \`dist/\` and containerd, each with its own scratch
directory, socket, CNI bridge network (the same conflist, different bridge and subnet) and the
same registry as mirror; containerd with \`restrict_oom_score_adj\`.

What it measures, per runtime:

- pod lifecycles (\`--pods\`, default 40, \`--parallel\` at a time, default 2), each
  RunPodSandbox, CreateContainer, StartContainer, StopContainer (the container exits on
  SIGTERM), RemoveContainer, StopPodSandbox, RemovePodSandbox, after one untimed warm-up;
  "pod lifecycle" is Run + Stop + Remove PodSandbox and "container lifecycle" Create + Start +
  Stop + Remove of each pod, so their medians are medians of whole lifecycles;
- PullImage and RemoveImage of an image with a layer no other image has (\`--pulls\` rounds,
  one at a time, after one untimed pull), then ImageStatus, ListImages, and with 10 running
  pods ContainerStatus, ListContainers and ListPodSandbox (\`--loops\` calls each, after
  ${WARMUP_CALLS} untimed ones: the kubelet calls these all the time, so it meets a warm daemon);
- with \`--scale\`: daemon RSS idle and with 100 pods of one \`sleep\` container each, host
  memory per pod (the daemon's growth plus every process the runtime keeps per pod, PSS from
  /proc/PID/smaps_rollup, 3 s after the pods started; the containers' own processes are left
  out), the daemon's CPU over 10 s while those pods idle (from 20 s after they started, once
  the garbage collection their starting set off is done), ListContainers and ListPodSandbox
  with 100 and then 500 containers.

And once per round, with no runtime at all: the pod network alone, as many times and as many
at a time as the pod lifecycles (a network namespace with loopback up, the same conflist's ADD
and DEL run by Podvisor's CNI code, the namespace deleted). Every runtime pays that much per pod
whatever else it does, so the last column shows how far below containerd's pod lifecycle any
pod lifecycle can go here.

Medians and 90th percentiles are in milliseconds; ratios are Podvisor over containerd (below 1:
Podvisor is faster or smaller). \`npm run bench -- --help\` lists the flags; \`--write-readme\`
rewrites this file with the run's results.

## Results

${run.date}, ${run.machine}

\`${run.command}\`

${resultText(run)}`;
}

export async function writeReadme(run: RunRecord): Promise<void> {
  await writeFile(README_PATH, readmeText(run));
}
