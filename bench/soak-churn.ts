import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../system/errors';
import type { CallLog, ChurnSource } from './call-log';
import { callOutcome, type CriCalls } from './cri-calls';
import { GRACEFUL_COMMAND, STOP_TIMEOUT_SECONDS } from './lifecycle';

const EXEC_TIMEOUT_SECONDS = 30;
// After a failed cycle, so a daemon that fails every call is not hammered in a tight loop.
const PAUSE_AFTER_FAILURE_MS = 1000;

/** An ExecSync that succeeded but did not print what was asked, or not only that. */
class WrongAnswer extends Error {}

export interface ChurnOptions {
  source: ChurnSource;
  /** The runtime handler the pods ask for. */
  handler: string;
  /** Unique among all clients of the run: in every pod's name. */
  name: string;
  image: string;
  /** Starts no new cycle once aborted; the cycle under way finishes. */
  stop: AbortSignal;
  log: CallLog;
  /** Every pod and container made, for the leftover audit. */
  made: { pods: Set<string>; containers: Set<string> };
}

/**
 * One pod's life as the kubelet drives it: RunPodSandbox, then for each container ImageStatus,
 * CreateContainer and StartContainer; an ExecSync into each that must echo the pod's name back;
 * each container stopped and removed; the pod stopped and removed. Whatever fails, the pod is
 * stopped and removed after (its containers go with it).
 */
async function podCycle(cri: CriCalls, podName: string, containers: number, options: ChurnOptions): Promise<void> {
  const config = cri.podConfig(podName);
  const podId = await cri.runPod(config, options.handler);
  options.made.pods.add(podId);
  try {
    const ids: string[] = [];
    for (let index = 0; index < containers; index++) {
      await cri.imageStatus(options.image);
      const id = await cri.createContainer(podId, config, `c${index}`, options.image, GRACEFUL_COMMAND);
      options.made.containers.add(id);
      ids.push(id);
      await cri.startContainer(id);
    }
    for (const id of ids) {
      const reply = await cri.execSync(id, ['echo', podName], EXEC_TIMEOUT_SECONDS);
      if (reply.exitCode !== 0 || reply.stdout !== `${podName}\n`) throw new WrongAnswer(`exec-sync in ${podName}: exit ${reply.exitCode}, ${JSON.stringify(reply.stdout)}`);
    }
    for (const id of ids) {
      await cri.stopContainer(id, STOP_TIMEOUT_SECONDS);
      await cri.removeContainer(id);
    }
    await cri.stopPod(podId);
    await cri.removePod(podId);
  } catch (error) {
    await cri.stopPod(podId).catch(() => undefined);
    await cri.removePod(podId).catch(() => undefined);
    throw error;
  }
}

/** Pod cycles one after the other, with one and two containers in turn, until `options.stop`; each cycle's time and outcome go into the log. */
export async function churn(cri: CriCalls, options: ChurnOptions): Promise<void> {
  for (let cycle = 0; !options.stop.aborted; cycle++) {
    const started = performance.now();
    try {
      await podCycle(cri, `${options.name}-${cycle}`, 1 + (cycle % 2), options);
      options.log.cycle(options.source, performance.now() - started, 'OK');
    } catch (error) {
      options.log.cycle(options.source, performance.now() - started, error instanceof WrongAnswer ? 'WRONG_ANSWER' : callOutcome(error), errorMessage(error));
      await sleep(PAUSE_AFTER_FAILURE_MS);
    }
  }
}
