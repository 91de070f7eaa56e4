import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listExitFiles, waitForExitFile, watchExitFiles } from '../oci/conmon/exit-files';
import type { ContainerExit } from '../oci/runtime-handler';

describe('exit files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-exits-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test("conmon's temporary file is not an exit; the renamed one is, once", async () => {
    const id = 'a'.repeat(64);
    const seen: ContainerExit[] = [];
    const stop = watchExitFiles(dir, (exit) => seen.push(exit), (error) => {
      throw error;
    });
    try {
      await sleep(100);
      await writeFile(join(dir, `${id}.X1Y2Z3`), '5');
      await sleep(200);
      expect(seen).toEqual([]);
      expect(await listExitFiles(dir)).toEqual([]);
      await rename(join(dir, `${id}.X1Y2Z3`), join(dir, id));
      await sleep(300);
      expect(seen.map(({ id: exited, exitCode }) => ({ id: exited, exitCode }))).toEqual([{ id, exitCode: 5 }]);
    } finally {
      stop();
    }
  });

  test('a wait for one exit ends when its file lands, and with nothing when time runs out', async () => {
    const id = 'b'.repeat(64);
    expect(await waitForExitFile(dir, id, 100)).toBeUndefined();
    const waiting = waitForExitFile(dir, id, 10_000);
    await writeFile(join(dir, `${'c'.repeat(64)}`), '1');
    await writeFile(join(dir, `${id}.X1Y2Z3`), '3');
    await rename(join(dir, `${id}.X1Y2Z3`), join(dir, id));
    expect(await waiting).toMatchObject({ id, exitCode: 3 });
    expect(await waitForExitFile(dir, id, 10_000)).toMatchObject({ id, exitCode: 3 });
  });
});
