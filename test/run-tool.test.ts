import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlineExceededError, InternalError } from '../system/errors';
import { CommandFailedError, runTool, runToolChecked } from '../system/run-tool';

// The programs run from the tool thread; what callers see must be what a spawn of their own gave.
describe('runTool', () => {
  test("a program's exit status, output and errors come back, fed the input it was given, in the directory asked", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'run-tool-'));
    try {
      const outcome = await runTool('/bin/sh', ['-c', 'read line; echo "$line in $(pwd)"; echo oops >&2; exit 3'], { timeoutMs: 30_000, input: 'hello\n', cwd: dir });
      expect(outcome).toEqual({ exitCode: 3, stdout: `hello in ${dir}\n`, stderr: 'oops\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("programs get the daemon's environment, or the one they are given instead", async () => {
    expect((await runTool('/bin/sh', ['-c', 'echo "$PATH"'], { timeoutMs: 30_000 })).stdout).toBe(`${process.env.PATH}\n`);
    // The daemon's HOME is not among what it was given.
    expect((await runTool('/bin/sh', ['-c', 'echo "${HOME-unset} $ONLY"'], { timeoutMs: 30_000, env: { ONLY: 'given' } })).stdout).toBe('unset given\n');
  });

  test('many programs at once each get their own answer', async () => {
    const outputs = await Promise.all(Array.from({ length: 20 }, (_unused, index) => runToolChecked('/bin/echo', [String(index)], { timeoutMs: 30_000 })));
    expect(outputs).toEqual(Array.from({ length: 20 }, (_unused, index) => `${index}\n`));
  });

  test('a program that overruns is DEADLINE_EXCEEDED, one that cannot run is INTERNAL, one that fails keeps its stderr', async () => {
    const overrun = await runTool('/bin/sleep', ['30'], { timeoutMs: 200, what: 'a sleepy tool' }).catch((error: unknown) => error);
    expect(overrun).toBeInstanceOf(DeadlineExceededError);
    expect((overrun as Error).message).toMatch(/^a sleepy tool did not answer within/);
    const missing = await runTool('/nonexistent/tool', [], { timeoutMs: 30_000 }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(InternalError);
    expect((missing as Error).message).toMatch(/^cannot run \/nonexistent\/tool: .*ENOENT/);
    const failed = await runToolChecked('/bin/sh', ['-c', 'echo broken >&2; exit 1'], { timeoutMs: 30_000 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(CommandFailedError);
    expect((failed as CommandFailedError).stderr).toBe('broken');
  });
});
