// The QMP client against a real QEMU (no guest needed: the VM is created paused) and, for a
// QEMU that stops answering, a socket that never replies.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, type QmpEvent, QmpError } from '../oci/vm/qmp-client';
import { DeadlineExceededError, UnavailableError } from '../system/errors';
import { waitUntil } from '../system/wait-until';

const QEMU = '/usr/bin/qemu-system-x86_64';
const CALL_MS = 10_000;

describe('QmpClient', () => {
  let dir: string;
  const qemus: ChildProcess[] = [];
  let server: Server | undefined;

  const startQemu = (socket: string): ChildProcess => {
    const qemu = spawn(QEMU, ['-machine', 'q35,accel=tcg', '-S', '-nodefaults', '-no-user-config', '-display', 'none', '-qmp', `unix:${socket},server=on,wait=off`], {
      stdio: 'ignore',
    });
    qemus.push(qemu);
    return qemu;
  };
  const exited = (qemu: ChildProcess): Promise<boolean> => waitUntil(async () => qemu.exitCode !== null || qemu.signalCode !== null, CALL_MS, 50);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-qmp-'));
  });

  afterAll(async () => {
    for (const qemu of qemus) qemu.kill('SIGKILL');
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('connects while QEMU is still starting, runs commands, delivers events, and quit ends QEMU', async () => {
    const socket = join(dir, 'a.qmp');
    const connecting = QmpClient.connect(socket, CALL_MS);
    const qemu = startQemu(socket);
    const qmp = await connecting;
    expect(await qmp.status(CALL_MS)).toBe('prelaunch');

    const events: QmpEvent[] = [];
    qmp.onEvent((event) => events.push(event));
    await qmp.execute('cont', undefined, CALL_MS);
    expect(await waitUntil(async () => events.some((event) => event.event === 'RESUME'), CALL_MS, 50)).toBe(true);
    expect(await qmp.status(CALL_MS)).toBe('running');

    const refused = qmp.execute('no-such-command', undefined, CALL_MS);
    await expect(refused).rejects.toThrow(QmpError);
    await expect(refused).rejects.toMatchObject({ errorClass: 'CommandNotFound' });

    await qmp.quit(CALL_MS);
    expect(await exited(qemu)).toBe(true);
    await expect(qmp.status(CALL_MS)).rejects.toThrow(UnavailableError);
  });

  test('a QEMU that dies fails the calls after it at once', async () => {
    const socket = join(dir, 'b.qmp');
    const qemu = startQemu(socket);
    const qmp = await QmpClient.connect(socket, CALL_MS);
    qemu.kill('SIGKILL');
    expect(await exited(qemu)).toBe(true);
    await expect(qmp.status(CALL_MS)).rejects.toThrow(UnavailableError);
  });

  test('a monitor that greets and then never answers fails the command past its deadline, naming it', async () => {
    const socket = join(dir, 'silent.qmp');
    server = createServer((connection: Socket) => connection.write('{"QMP": {"version": {}, "capabilities": []}}\r\n'));
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
    await expect(QmpClient.connect(socket, 300)).rejects.toThrow(DeadlineExceededError);
    await expect(QmpClient.connect(socket, 300)).rejects.toThrow(/qmp_capabilities/);
  });
});
