import { PassThrough } from 'node:stream';
import { createLogger, reconfigureLogger, type LogFormat, type LogLevel } from '../system/logger';

function capture(level: LogLevel, format: LogFormat): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { logger: createLogger(level, format, stream), lines: () => text.split('\n').filter((line) => line !== '') };
}

describe('logger', () => {
  test('text format puts one event on one line with its fields as key=value', () => {
    const { logger, lines } = capture('info', 'text');
    logger.info('pod started', { pod_id: 'abc123', note: 'two words' });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/^\S+ info  pod started pod_id=abc123 note="two words"$/);
  });

  test('json format writes one parseable object per event', () => {
    const { logger, lines } = capture('info', 'json');
    logger.warn('slow', { duration_ms: 12.5 });
    const event = JSON.parse(lines()[0]) as Record<string, unknown>;
    expect(event).toMatchObject({ level: 'warn', message: 'slow', duration_ms: 12.5 });
    expect(typeof event.timestamp).toBe('string');
  });

  test('credentials never reach the output, however deeply they are nested', () => {
    const { logger, lines } = capture('debug', 'json');
    logger.info('pull', {
      image: 'registry.example/app:1',
      auth: { username: 'bob', password: 'hunter2-pw', identityToken: 'id-tok-1' },
      registry_token: 'reg-tok-2',
      nested: [{ Authorization: 'Bearer abc-bearer' }],
    });
    const line = lines()[0];
    for (const secret of ['hunter2-pw', 'id-tok-1', 'reg-tok-2', 'abc-bearer']) expect(line).not.toContain(secret);
    expect(line).toContain('registry.example/app:1');
    expect(line).toContain('[redacted]');
  });

  test('the level filters events and can be changed live', () => {
    const { logger, lines } = capture('info', 'text');
    logger.debug('hidden');
    reconfigureLogger(logger, 'debug', 'json');
    logger.debug('shown');
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0])).toMatchObject({ level: 'debug', message: 'shown' });
  });
});
