import type { CriCalls } from './cri-calls';
import { runPool } from './pool';

/** Stops and removes every pod the runtime lists (their containers go with them). */
export async function removeAllPods(cri: CriCalls, parallel: number): Promise<void> {
  const pods = await cri.listPods();
  await runPool(pods.length, parallel, new AbortController().signal, async (index) => {
    await cri.stopPod(pods[index].id);
    await cri.removePod(pods[index].id);
  });
}
