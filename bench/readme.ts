import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unlessAbsent } from '../system/unless-absent';
import { WARMUP_CALLS } from './loops';
import { POD_LIFECYCLE } from './lifecycle';
import { figureTable, floorTable, latencyTable, type RuntimeResult } from './report';
import type { Summary } from './stats';
import { vmResultText } from './vm-report';
import type { VmResult } from './vm-session';

// The source tree's bench/README.md, from dist/bench/.
export const README_PATH = join(__dirname, '..', '..', 'bench', 'README.md');

export interface RunRecord {
  date: string;
  machine: string;
  command: string;
  results: RuntimeResult[];
  /** The pod network alone, per step (network-floor.ts). */
  floor: Map<string, Summary>;
  /** With --vm. */
  vm?: VmResult;
}

// Where the VM pods section of bench/README.md begins; everything above it is the runtimes'.
const VM_HEADING = '## VM pods';

/** The tables as printed after a run, each runtime's version first. */
export function resultText(run: RunRecord): string {
  const versions = run.results.map((result) => `${result.name}: ${result.version}`).join('; ');
  const figures = run.results.some((result) => result.figures.length > 0) ? `\n\n${figureTable(run.results)}` : '';
  const floor = run.floor.size > 0 ? `\n\n${floorTable(run.floor, run.results, POD_LIFECYCLE)}` : '';
  return `${versions}\n\n${latencyTable(run.results)}${figures}${floor}\n`;
}

/** Everything a run prints: the runtimes' tables, then the VM pods' with --vm. */
export function printedText(run: RunRecord): string {
  return run.vm === undefined ? resultText(run) : `${resultText(run)}\n${vmResultText(run.vm)}\n`;
}

/** When and where a run measured, and how it was started. */
function runHeader(run: RunRecord): string {
  return `${run.date}, ${run.machine}\n\n\`${run.command}\``;
}

/** bench/README.md without its VM pods section: what the bench does and how to run it, then the last results written. */
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
rewrites this file with the run's results, but for the VM pods section below; with \`--vm\` it
rewrites that section alone.

## Results

${runHeader(run)}

${resultText(run)}`;
}

/** The VM pods section of bench/README.md: what \`--vm\` measures, then its results. */
export function vmSectionText(run: RunRecord, vm: VmResult): string {
  return `${VM_HEADING}

\`npm run bench -- --vm\` adds VM pods beside runc pods to the same run, after the runtimes above
(also with \`--only\`). First, with no daemon running, the floor: a bare QEMU boot with the vm
handler's own machine arguments (\`oci/vm/qemu-args.ts\`), accelerator (the daemon's probe),
kernel, initramfs and kernel command line (\`oci/vm/kernel-params.ts\`), default size, no devices,
and \`rdinit=/bin/poweroff -- -f\`, so the guest powers off the moment its init would start; from
QEMU's spawn to its exit, \`--vm-pods\` times (default 5) after one untimed boot. Each boot must
print the kernel's power-down line, so a kernel that panics cannot look fast.

Then a podvisord of its own with four handlers: \`runc\`, \`vm-cold\` (vm, \`template = false\`),
\`vm-template\` (vm, \`template = true\`, the default) and \`vm-warm\` (vm, \`warm_clones = 2\`). For
each in turn, \`--vm-pods\` pods one at a time, after one untimed pod (it builds the template,
probes the accelerator, warms the page cache): RunPodSandbox, CreateContainer and StartContainer
of one \`sleep\` container, and their sum; 3 s after the start, the PSS (/proc/PID/smaps_rollup)
of every process in the pod's cgroup (as podvisord's verbose PodSandboxStatus names it) but the
container's own: conmon for a runc pod, QEMU for a VM pod; then the pod is stopped and removed.
Before each vm-warm pod the bench waits, up to 60 s, until the handler has 2 QEMU processes that
no pod has taken, each idle over one second (a spare still booting or restoring keeps a core
busy); when none appears at all, the daemon keeps no warm cache and the other pods are not
waited for. A figure says how many pods were timed with a full cache.

Last, \`--vm-scale-pods\` vm-template pods (default 20) started \`--parallel\` at a time: how long
that took, the host memory they use (the drop in MemAvailable, and the PSS of their processes,
3 s after they started), the CPU of the daemon and of those processes over \`--idle-seconds\`
while the pods idle (after the same quiet period as \`--scale\`), and an ExecSync of \`echo ok\`
(30 s timeout) into every pod's container afterwards: how many answered.

The last table sets these beside issue 16's targets: a template pod's Run + Create + Start
within 4x a runc pod's, a cold one's within 1.5x the bare boot, PSS at most 40 MiB per template
pod and 130 MiB per cold pod, and with 20 idle VM pods the daemon under 1 % of a core and every
pod answering exec-sync.

### Results

${runHeader(run)}

${vmResultText(vm)}
`;
}

/**
 * bench/README.md (`current`) with the run's results: with --vm its VM pods section, the rest
 * kept as it is (a VM run's runtime figures are usually a short run's); without, everything
 * else, the VM pods section kept.
 */
export function updatedReadme(current: string, run: RunRecord): string {
  const at = current.indexOf(`\n${VM_HEADING}\n`);
  const [runtimes, vmSection] = at < 0 ? [current, ''] : [current.slice(0, at + 1), current.slice(at + 1)];
  if (run.vm === undefined) return vmSection === '' ? readmeText(run) : `${readmeText(run)}\n${vmSection}`;
  return `${(runtimes.trim() === '' ? readmeText(run) : runtimes).trimEnd()}\n\n${vmSectionText(run, run.vm)}`;
}

export async function writeReadme(run: RunRecord): Promise<void> {
  const current = await unlessAbsent(readFile(README_PATH, 'utf8'), '');
  await writeFile(README_PATH, updatedReadme(current, run));
}
