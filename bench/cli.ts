// `npm run bench`: podvisord and containerd side by side through their CRI sockets.
import { errorMessage } from '../system/errors';
import { startBenchRegistry, type BenchImages } from './bench-images';
import { describeRun } from './machine';
import { parseBenchArgs, USAGE, UsageError, type BenchOptions } from './options';
import { printedText, README_PATH, writeReadme, type RunRecord } from './readme';
import { measureNetworkFloor } from './network-floor';
import { Timings } from './timings';
import { runSession, runtimeRecorder, runtimeResult } from './session';
import { runSoak } from './soak';
import { measureVm } from './vm-session';

function say(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The first SIGINT or SIGTERM stops the run; cleanup then still runs to its end. */
function abortOnSignals(): AbortController {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!controller.signal.aborted) say(`${signal}: stopping after the calls in flight, then cleaning up`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller;
}

type Measurements = Pick<RunRecord, 'results' | 'floor' | 'vm' | 'soak'>;

/**
 * Every runtime, round after round, the order reversed each round so that a machine getting
 * faster or slower weighs on all of them alike; the work is shared out over the rounds, and
 * the scale figures are taken in the last. The VM pods come after all rounds.
 */
async function measureAll(options: BenchOptions, images: BenchImages, signal: AbortSignal): Promise<Measurements> {
  const runs = options.runtimes.map((name) => ({ name, recorder: runtimeRecorder() }));
  const floor = new Timings();
  const share = (total: number): number => Math.ceil(total / options.rounds);
  for (let round = 0; round < options.rounds; round++) {
    const last = round === options.rounds - 1;
    const roundOptions = { ...options, pods: share(options.pods), loops: share(options.loops), pulls: share(options.pulls), scale: options.scale && last };
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    for (const { name, recorder } of order) {
      signal.throwIfAborted();
      const label = options.rounds > 1 ? `${name} (round ${round + 1} of ${options.rounds})` : name;
      await runSession(name, images, roundOptions, signal, (message) => say(`${label}: ${message}`), recorder);
    }
    say(`the pod network alone: ${roundOptions.pods} times, ${options.parallel} at a time`);
    await measureNetworkFloor(floor, { pods: roundOptions.pods, parallel: options.parallel, signal });
  }
  const vm = options.vm ? await measureVm(images, options, signal, say) : undefined;
  return { results: runs.map(({ name, recorder }) => runtimeResult(name, recorder)), floor: floor.summaries(), vm };
}

async function bench(argv: string[], options: BenchOptions): Promise<void> {
  const controller = abortOnSignals();
  say('starting a registry and pushing the bench images');
  const images = await startBenchRegistry();
  let measured: Measurements;
  try {
    // The soak measures nothing else.
    measured = options.soak ? { results: [], floor: new Map(), soak: await runSoak(images, options, controller.signal, say) } : await measureAll(options, images, controller.signal);
  } finally {
    await images.registry.stop();
  }
  const flags = argv.filter((arg, index) => index > 0 || arg !== '--');
  const command = ['npm run bench', ...(flags.length > 0 ? ['--', ...flags] : [])].join(' ');
  const run: RunRecord = { date: new Date().toISOString().slice(0, 10), machine: await describeRun(), command, ...measured };
  process.stdout.write(`\n${printedText(run)}`);
  if (options.writeReadme) {
    await writeReadme(run);
    say(`wrote ${README_PATH}`);
  }
}

/** Runs the bench; answers the exit code (2: bad flags), and rejects when a run fails. */
export async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
    if (!options.help && process.getuid?.() !== 0) throw new UsageError('the bench runs pods: run it as root');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(error.message);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (options.help) process.stdout.write(`${USAGE}\n`);
  else await bench(argv, options);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      say(errorMessage(error));
      process.exit(1);
    },
  );
}
