import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RUNTIME_NAMES, type RuntimeName } from './runtime';

export interface BenchOptions {
  pods: number;
  parallel: number;
  /** Rounds that alternate the runtimes; the lifecycles, loops and pulls are split across them. */
  rounds: number;
  loops: number;
  pulls: number;
  runtimes: RuntimeName[];
  scale: boolean;
  scalePods: number;
  scaleContainers: number;
  idleSeconds: number;
  /** Also measure VM pods beside runc pods, in a podvisord of their own. */
  vm: boolean;
  /** Pods timed per way of starting them (runc, VM cold, from the template, from the warm cache). */
  vmPods: number;
  /** VM pods started together for the memory, CPU and exec-sync figures. */
  vmScalePods: number;
  writeReadme: boolean;
  /** Where podvisord's CPU profile goes, when one is wanted. */
  cpuProfileDir: string | undefined;
  /** Run the soak instead of the measurements. */
  soak: boolean;
  /** How long the soak's clients churn pods, warm-up included, in ms. */
  soakMs: number;
  /** The soak's report windows, in ms. */
  windowMs: number;
  /** The soak's churn clients, `vmClients` of them churning VM pods and the rest runc pods. */
  clients: number;
  vmClients: number;
  help: boolean;
}

export class UsageError extends Error {}

const INTEGER_FLAGS = {
  pods: { default: 40, help: 'pod lifecycles to time' },
  parallel: { default: 2, help: 'calls in flight at once' },
  rounds: { default: 1, help: 'rounds alternating the runtimes, sharing out the work (drift hits both alike)' },
  loops: { default: 100, help: 'calls per status and list loop' },
  pulls: { default: 20, help: 'PullImage + RemoveImage rounds' },
  'scale-pods': { default: 100, help: 'pods running for the memory and CPU figures (with --scale)' },
  'scale-containers': { default: 500, help: 'containers in those pods for the second list reading (with --scale)' },
  'idle-seconds': { default: 10, help: 'how long CPU is measured while the pods idle (with --scale or --vm)' },
  'vm-pods': { default: 5, help: 'pods timed per start mode, one at a time, and bare QEMU boots (with --vm)' },
  'vm-scale-pods': { default: 20, help: 'VM pods from the template running together (with --vm)' },
  clients: { default: 4, help: 'churn clients (with --soak)' },
  'vm-clients': { default: 1, min: 0, help: 'of those, how many churn VM pods rather than runc pods (with --soak)' },
} as const;

const DURATION_FLAGS = {
  duration: { default: '10m', help: 'how long the clients churn, warm-up included (with --soak)' },
  window: { default: '1m', help: 'the report windows (with --soak)' },
} as const;

type DurationFlag = keyof typeof DURATION_FLAGS;

type IntegerFlag = keyof typeof INTEGER_FLAGS;

export const USAGE = [
  'usage: npm run bench -- [flags]',
  ...Object.entries(INTEGER_FLAGS).map(([flag, spec]) => `  --${flag} N`.padEnd(26) + `${spec.help} (default ${spec.default})`),
  `  --only NAME`.padEnd(26) + `run one runtime: ${RUNTIME_NAMES.join(' or ')} (default both)`,
  '  --scale'.padEnd(26) + 'also take the memory, CPU and scale figures',
  '  --vm'.padEnd(26) + 'also measure VM pods (cold, template, warm cache) beside runc pods and a bare QEMU boot',
  '  --soak'.padEnd(26) + 'instead: a soak of podvisord, pods of both handlers churned while the kubelet\'s calls poll',
  ...Object.entries(DURATION_FLAGS).map(([flag, spec]) => `  --${flag} TIME`.padEnd(26) + `${spec.help}: 90s, 10m, 1h (default ${spec.default})`),
  '  --write-readme'.padEnd(26) + 'write the results into bench/README.md (with --vm or --soak: that section only)',
  '  --cpu-prof DIR'.padEnd(26) + "write podvisord's CPU profile (.cpuprofile) into DIR",
].join('\n');

function integer(values: Record<string, string | boolean | undefined>, flag: IntegerFlag): number {
  const text = values[flag];
  const spec = INTEGER_FLAGS[flag];
  if (text === undefined) return spec.default;
  const zero = 'min' in spec && spec.min === 0;
  if (typeof text !== 'string' || !(zero ? /^(0|[1-9]\d*)$/ : /^[1-9]\d*$/).test(text)) throw new UsageError(`--${flag} expects a ${zero ? 'whole number' : 'positive integer'}, got "${String(text)}"`);
  return Number(text);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** A span of time as 90s, 10m or 1h (seconds without a unit), in ms. */
function duration(values: Record<string, string | boolean | undefined>, flag: DurationFlag): number {
  const text = values[flag] ?? DURATION_FLAGS[flag].default;
  const match = typeof text === 'string' ? /^([1-9]\d*)([smh]?)$/.exec(text) : null;
  if (match === null) throw new UsageError(`--${flag} expects a time such as 90s, 10m or 1h, got "${String(text)}"`);
  return Number(match[1]) * UNIT_MS[match[2] || 's'];
}

function runtimes(only: string | boolean | undefined): RuntimeName[] {
  if (only === undefined) return [...RUNTIME_NAMES];
  const name = RUNTIME_NAMES.find((candidate) => candidate === only);
  if (name === undefined) throw new UsageError(`--only expects ${RUNTIME_NAMES.join(' or ')}, got "${String(only)}"`);
  return [name];
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    const integerOptions = Object.fromEntries(Object.keys(INTEGER_FLAGS).map((flag) => [flag, { type: 'string' as const }]));
    values = parseArgs({
      // `node scripts/setup.mjs bench -- --pods 6` hands on the separator that npm would have eaten.
      args: argv[0] === '--' ? argv.slice(1) : argv,
      options: {
        ...integerOptions,
        duration: { type: 'string' },
        window: { type: 'string' },
        only: { type: 'string' },
        scale: { type: 'boolean' },
        vm: { type: 'boolean' },
        soak: { type: 'boolean' },
        'write-readme': { type: 'boolean' },
        'cpu-prof': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const options: BenchOptions = {
    pods: integer(values, 'pods'),
    parallel: integer(values, 'parallel'),
    rounds: integer(values, 'rounds'),
    loops: integer(values, 'loops'),
    pulls: integer(values, 'pulls'),
    runtimes: runtimes(values.only),
    scale: values.scale === true,
    scalePods: integer(values, 'scale-pods'),
    scaleContainers: integer(values, 'scale-containers'),
    idleSeconds: integer(values, 'idle-seconds'),
    vm: values.vm === true,
    vmPods: integer(values, 'vm-pods'),
    vmScalePods: integer(values, 'vm-scale-pods'),
    writeReadme: values['write-readme'] === true,
    cpuProfileDir: typeof values['cpu-prof'] === 'string' ? resolve(values['cpu-prof']) : undefined,
    soak: values.soak === true,
    soakMs: duration(values, 'duration'),
    windowMs: duration(values, 'window'),
    clients: integer(values, 'clients'),
    vmClients: integer(values, 'vm-clients'),
    help: values.help === true,
  };
  if (options.scaleContainers < options.scalePods) throw new UsageError('--scale-containers must be at least --scale-pods (each pod has one container to begin with)');
  if (options.vmClients > options.clients) throw new UsageError('--vm-clients must be at most --clients (they are some of them)');
  if (options.soak && (options.vm || options.scale)) throw new UsageError('--soak runs alone: without --vm and --scale');
  return options;
}
