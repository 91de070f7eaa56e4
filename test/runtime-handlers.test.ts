import { validateConfig } from '../config/validate';
import { RuntimeHandlers } from '../oci/handlers';
import { InvalidArgumentError } from '../system/errors';
import { createLogger } from '../system/logger';
import { PassThrough } from 'node:stream';

const environment = { runroot: '/run/podvisor-test-unused', cgroupManager: 'cgroupfs' as const, logger: createLogger('error', 'text', new PassThrough()) };

describe('RuntimeHandlers', () => {
  const runtime = validateConfig({
    runtime: {
      default_handler: 'runc',
      handlers: { runc: { type: 'oci', runtime_path: '/usr/bin/runc' }, kata: { type: 'vm', qemu_path: '/nonexistent/qemu' } },
    },
  }).runtime;

  test('each configured handler gets the implementation of its type; "" is the default', () => {
    const handlers = new RuntimeHandlers(runtime, environment);
    expect(handlers.list().map((h) => [h.name, h.type])).toEqual([
      ['runc', 'oci'],
      ['kata', 'vm'],
    ]);
    expect(handlers.resolve('')).toBe(handlers.default);
    expect(handlers.default.name).toBe('runc');
    expect(handlers.resolve('kata').type).toBe('vm');
  });

  test('an unknown handler is InvalidArgument naming the configured ones', () => {
    const handlers = new RuntimeHandlers(runtime, environment);
    expect(() => handlers.resolve('gvisor')).toThrow(InvalidArgumentError);
    expect(() => handlers.resolve('gvisor')).toThrow('runtime handler "gvisor" is not configured (configured: runc, kata)');
  });

  test('a handler whose programs are missing is not ready, and says which', async () => {
    const kata = new RuntimeHandlers(runtime, environment).resolve('kata');
    const readiness = await kata.readiness();
    expect(readiness.ready).toBe(false);
    expect(readiness.message).toContain('qemu /nonexistent/qemu is missing or not executable');
  });
});
