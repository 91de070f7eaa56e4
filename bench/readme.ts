import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unlessAbsent } from '../system/unless-absent';
import { FIRST_CALLS, LOOP_PODS, WARM_LAP_CALLS, WARM_LAP_MS } from './idle-reads';
import { WARMUP_CALLS } from './loops';
import { CHURN_RUNNING_MS, POD_LIFECYCLE } from './lifecycle';
import { READ_LABELS } from './read-calls';
import { readsTable } from './reads-report';
import { figureTable, floorTable, latencyTable, type RuntimeResult } from './report';
import { soakResultText } from './soak-report';
import { HEAP_TOLERANCE_MIB, OBJECT_TOLERANCE, QUIET_MS, RSS_TOLERANCE_MIB, type SoakResult } from './soak-summary';
import type { Summary } from './stats';
import { CONTAINER_LIFECYCLE_RATIO_GOAL, CREATE_AND_START_RATIO_GOAL, issue19Table, POD_LIFECYCLE_OVER_FLOOR_GOAL_MS, REMOVAL_RATIO_GOAL } from './speed-targets';
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
  /** With --soak, which measures nothing else. */
  soak?: SoakResult;
}

// The sections of bench/README.md after the runtimes' part, in the order the file keeps them.
const VM_HEADING = '## VM pods';
const SOAK_HEADING = '## Soak';
const SECTION_HEADINGS = [VM_HEADING, SOAK_HEADING];

/** The tables as printed after a run, each runtime's version first. */
export function resultText(run: RunRecord): string {
  const versions = run.results.map((result) => `${result.name}: ${result.version}`).join('; ');
  const figures = run.results.some((result) => result.figures.length > 0) ? `\n\n${figureTable(run.results)}` : '';
  const floor = run.floor.size > 0 ? `\n\n${floorTable(run.floor, run.results, POD_LIFECYCLE)}` : '';
  return `${versions}\n\n${latencyTable(run.results)}\n\n${readsTable(run.results)}${figures}${floor}\n\n${issue19Table(run.results, run.floor)}\n`;
}

/** Everything a run prints: the runtimes' tables, then the VM pods' with --vm; the soak's alone with --soak. */
export function printedText(run: RunRecord): string {
  if (run.soak !== undefined) return `${soakResultText(run.soak)}\n`;
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

What it measures, per runtime, in this order:

- critest's image benchmark: PullImage, ImageStatus and RemoveImage of an image with a layer
  no other image has (\`--pulls\` rounds, one at a time, after one untimed pull);
- the read calls the kubelet makes over and over (${READ_LABELS.join(', ')}; the
  verbose ones with \`verbose\` set), idle: with ${LOOP_PODS} running pods and nothing else going on,
  \`--loops\` calls each, \`--parallel\` at a time, on a warm daemon: the kubelet calls these all
  the time, and a daemon that has just started answers its first thousands of calls slower while
  its JIT compiles them (podvisord's V8; containerd is compiled ahead of time). So every read
  call first gets ${WARM_LAP_CALLS} untimed calls in turn (or ${WARM_LAP_MS / 1000} s, whichever ends first),
  and each loop ${WARMUP_CALLS} more; what a kubelet meets right after a start is timed apart,
  before any of that, as "${FIRST_CALLS}";
  a call that names a pod or a container takes
  those pods' or their containers in turn; a call whose first, untimed try fails is left out
  for that runtime in both phases (the bench says why; a dash in the tables): containerd 1.6's
  PodSandboxStats fails on a pod that names no cgroup parent, as the bench's pods do not;
- pod lifecycles (\`--pods\`, default 40, \`--parallel\` at a time, default 2), each timed as
  critest's pod and container benchmarks time them: RunPodSandbox, a verbose PodSandboxStatus,
  ImageStatus and CreateContainer (critest times the two as one), StartContainer, a verbose
  ContainerStatus, StopContainer (the container exits on SIGTERM), RemoveContainer,
  StopPodSandbox, RemovePodSandbox, after one untimed warm-up; "pod lifecycle" is critest's pod
  benchmark (Run + Status + Stop + Remove PodSandbox) and "container lifecycle" its container
  benchmark (ImageStatus + Create + Start + Status + Stop + Remove) of each pod, so their
  medians are medians of whole lifecycles;
- the same read calls under churn: while those lifecycles run, a reader on the same connection
  calls them one at a time, each in turn, for as long as the lifecycles last, as the kubelet
  keeps reading while pods come and go; a call that names a pod or a container reads the
  lifecycles' own in turn, a pod from its RunPodSandbox to its StopPodSandbox and a container
  from its StartContainer to its StopContainer (in the churn each container runs
  ${CHURN_RUNNING_MS / 1000} s between its verbose status and its stop, untimed, so the reader meets it running; a stop waits, untimed, for a read of its object
  under way, so no read meets its object's end); a read that fails is not timed but counted
  ("read calls failed under churn": containerd's ListContainerStats fails now and then when a
  container goes while it collects, as the kubelet would see too);
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
Podvisor is faster or smaller); a count that differs between the columns is shown for each, in
their order. The read calls have a table of their own, idle and under churn side by side. The
last table sets the run beside issue 19's targets: every read call, idle and under churn, no
slower than containerd's; RemoveContainer and RemoveImage at most ${REMOVAL_RATIO_GOAL}x containerd's, and
ImageStatus + CreateContainer + StartContainer at most ${CREATE_AND_START_RATIO_GOAL}x, as critest times them; the container lifecycle at most ${CONTAINER_LIFECYCLE_RATIO_GOAL}x containerd's; the pod
lifecycle at most ${POD_LIFECYCLE_OVER_FLOOR_GOAL_MS} ms above the pod network alone; the daemon's RSS idle and with the
\`--scale\` pods at most containerd's. \`npm run bench -- --help\` lists the flags; \`--write-readme\`
rewrites this file with the run's results, but for the VM pods and soak sections below; with
\`--vm\` or \`--soak\` it rewrites that section alone.

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

/** The soak section of bench/README.md: what \`--soak\` does, then its results. */
export function soakSectionText(run: RunRecord, soak: SoakResult): string {
  return `${SOAK_HEADING}

\`npm run bench -- --soak\` runs instead of all the above: one podvisord with its default
configuration (handlers \`runc\` and \`vm\`, VM pods cloned from the template), on a CNI network
of its own, soaked for \`--duration\` (default 10 minutes) by two kinds of clients at once:

- \`--clients\` churn clients (default 4), each on a gRPC connection of its own, each running pod
  cycles one after the other: RunPodSandbox; for one container, and two in the next cycle:
  ImageStatus, CreateContainer, StartContainer (a shell that exits on SIGTERM); an ExecSync into
  each container that must echo the pod's name back; StopContainer and RemoveContainer of each;
  StopPodSandbox and RemovePodSandbox. \`--vm-clients\` of them (default 1) churn VM pods, the
  rest runc pods: a VM pod takes seconds under TCG where a runc pod takes a fraction of one, so
  they get the smaller share. A failed cycle is recorded with its code, its pod stopped and
  removed, and the client goes on.
- the kubelet's periodic calls, on one connection, each loop waiting its default period after
  its last call: every 1 s the PLEG relist (ListPodSandbox, ListContainers, then PodSandboxStatus
  of every pod and ContainerStatus of every container listed: the kubelet asks only for those
  that changed), every 5 s Status, every 10 s ListContainerStats and ListPodSandboxStats, and
  ImageFsInfo, every 30 s ListImages.

The churn runs in three phases: a warm-up (one \`--window\`, at most a quarter of the duration),
then the rest in two halves. After each phase the churn clients have removed their pods and
closed their connections, and the daemon is left ${QUIET_MS / 1000} s with only the pollers calling (its
pods' exits handled) before an idle checkpoint: the bench has the daemon collect all its garbage
through node's inspector (the soak's daemon runs with \`--inspect\` on a loopback port, so any
local user could reach it: run the soak only where they all may be root), reads its heap (what
is live, of it the machine code V8 compiled, and what objects hold outside the heap: Buffers)
and counts its live objects by kind (all of them, functions, arrays, Maps, Sets, Promises: by
the prototype they have, with the inspector's queryObjects); then, from /proc, its resident
memory, its open file descriptors (by kind) and the processes it keeps, by name: all its
descendants, and what runs from under its directory having left its tree (conmon and the
containers below it). The same is read right after it started, and the /proc figures every 10 s
throughout. At the end: what ListPodSandbox and ListContainers still list, and the tests' host
audit (\`test/support/host-audit.ts\`) of the daemon's directories, its network and every pod
and container ID the soak made: network namespaces, mounts, cgroups, processes (QEMU, conmon,
containers), veths, IP leases, iptables rules, state files. A VM pod's TAP lives in its network
namespace and is held by its QEMU: both are counted.

Every call is recorded: its method, how long it took, its gRPC code (with grpc-js's reason when
the daemon could not even encode its answer). Per window (\`--window\`, default 1 minute):
calls, failures, the relist's status calls that found their object removed since the list (the
kubelet's normal race: not failures), p50 / p90 / p99 in ms of the pollers' calls and of whole
pod cycles per handler, and the daemon's RSS, open fds and processes (lowest and highest
reading). Then every failure by window, call and code; each call over the whole soak, with its
p99 in the first and the last window it was made in; the checkpoints; what was left. Latencies
are of a 2-core machine running QEMU under TCG and, at times, other work: their drift over the
windows is the figure, not their size. A StopContainer of about 10 s is a container whose shell
got SIGTERM before it had set its trap (a namespace's init ignores a signal it has no handler
for): the grace period, then SIGKILL, as it should be.

The verdict is flat when no call failed, nothing was listed or left at the end, and at the end
checkpoint, beside the one after the warm-up, the daemon kept no more processes and open fds,
and had at most ${OBJECT_TOLERANCE} more live objects of any kind, at most ${HEAP_TOLERANCE_MIB} MiB more held in its heap (but code)
and outside it, and at most ${RSS_TOLERANCE_MIB} MiB more RSS. The object counts are the fine measure: between
idle checkpoints of one run they moved by 20 at most (closures and arrays of the pollers' calls
then in flight), and a leak of one object per VM container (the soak's 10 minutes make 40 to
50; of runc pods, over a thousand) is above the tolerance. The memory figures catch few but large
leaks: V8's heap still grows slowly after the warm-up as it compiles and optimizes more of the
daemon (machine code, and bytecode and type feedback in its other spaces: heap snapshots of
these runs showed no JavaScript object growing beside it), 0.6 to 1.3 MiB over a 10-minute soak
here; and two idle RSS readings of the same daemon differed by up to 3.3 MiB (pages V8 and the C
allocator keep for reuse).

### Results

${runHeader(run)}

${soakResultText(soak)}
`;
}

/** bench/README.md cut into the runtimes' part (before the first section) and its sections by heading. */
function readmeParts(text: string): { runtimes: string; sections: Map<string, string> } {
  const starts = SECTION_HEADINGS.map((heading) => ({ heading, at: text.indexOf(`\n${heading}\n`) }))
    .filter(({ at }) => at >= 0)
    .sort((a, b) => a.at - b.at);
  const sections = new Map(starts.map(({ heading, at }, index) => [heading, text.slice(at + 1, starts[index + 1]?.at ?? text.length)]));
  return { runtimes: starts.length === 0 ? text : text.slice(0, starts[0].at + 1), sections };
}

/**
 * bench/README.md (`current`) with the run's results: with --vm or --soak that section, the
 * rest kept as it is (a VM run's runtime figures are usually a short run's); otherwise the
 * runtimes' part, the sections kept.
 */
export function updatedReadme(current: string, run: RunRecord): string {
  const { runtimes, sections } = readmeParts(current);
  let head = runtimes;
  if (run.soak !== undefined) sections.set(SOAK_HEADING, soakSectionText(run, run.soak));
  else if (run.vm !== undefined) sections.set(VM_HEADING, vmSectionText(run, run.vm));
  if (run.soak === undefined && (run.vm === undefined || runtimes.trim() === '')) head = readmeText(run);
  const parts = [head, ...SECTION_HEADINGS.flatMap((heading) => sections.get(heading) ?? [])].map((part) => part.trim()).filter((part) => part !== '');
  return `${parts.join('\n\n')}\n`;
}

export async function writeReadme(run: RunRecord): Promise<void> {
  const current = await unlessAbsent(readFile(README_PATH, 'utf8'), '');
  await writeFile(README_PATH, updatedReadme(current, run));
}
