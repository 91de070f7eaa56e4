import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriLogWriter } from '../oci/cri-log-writer';

describe('CriLogWriter', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-crilog-'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('writes the CRI format: a full line is F, an unfinished one P, with the time the output was read', async () => {
    const path = join(dir, 'logs', 'app.log');
    const log = new CriLogWriter(path);
    const at = new Date('2026-12-05T01:02:03.456Z');
    await log.write('stdout', Buffer.from('one\ntwo\npart'), at);
    await log.write('stderr', Buffer.from('ial\n'), at);
    await log.close();
    expect(await readFile(path, 'utf8')).toBe(
      [
        '2026-12-05T01:02:03.456Z stdout F one',
        '2026-12-05T01:02:03.456Z stdout F two',
        '2026-12-05T01:02:03.456Z stdout P part',
        '2026-12-05T01:02:03.456Z stderr F ial',
        '',
      ].join('\n'),
    );
  });

  test('after the kubelet rotates the file away, reopen starts a new one at the same path', async () => {
    const path = join(dir, 'app.log');
    const log = new CriLogWriter(path);
    await log.write('stdout', Buffer.from('before\n'));
    await rename(path, `${path}.1`);
    await log.reopen();
    await log.write('stdout', Buffer.from('after\n'));
    await log.close();
    expect(await readFile(`${path}.1`, 'utf8')).toMatch(/stdout F before\n$/);
    expect(await readFile(path, 'utf8')).toMatch(/^\S+ stdout F after\n$/);
  });
});
