// `kubectl debug --target`: an ephemeral container in pid mode TARGET joins another container's
// PID namespace, so it sees (and can signal) the target's processes; an unknown target or one
// that does not run is refused, saying which. Through the CRI socket, with runc and a VM pod.
import { status as Code } from '@grpc/grpc-js';
import { NamespaceMode, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';

const BOOT_MS = 180_000;

const targeting = (targetId: string) => ({ linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.TARGET, ipc: NamespaceMode.POD, targetId } } } });

describe('PID namespace of a target container', () => {
  let daemon: ContainerDaemon;

  beforeAll(async () => {
    daemon = await ContainerDaemon.start('10.219.65.0/24');
  }, 120_000);

  afterAll(() => daemon?.close(), CLOSE_MS);

  const start = (containerId: string) => unary(daemon.client, Runtime.startContainer, { containerId });
  const processes = async (containerId: string) => (await unary(daemon.client, Runtime.execSync, { containerId, cmd: ['ps', '-o', 'args'], timeout: 30n })).stdout.toString();

  test.each([
    ['runc', 'runc'],
    ['vm', 'vm'],
  ])('a debug container of a %s pod sees the target\'s processes, and no other container\'s', async (handler) => {
    const podId = await daemon.runPod(`debug-${handler}`, handler);
    const target = await daemon.createContainer(podId, 'app', ['sleep', '4711']);
    const other = await daemon.createContainer(podId, 'other', ['sleep', '4712']);
    await Promise.all([start(target), start(other)]);
    const debug = await daemon.createContainer(podId, 'debugger', ['sleep', '600'], targeting(target));
    await start(debug);
    const seen = await processes(debug);
    expect(seen).toContain('sleep 4711');
    expect(seen).not.toContain('sleep 4712');
    // The target's main process stays PID 1 of the namespace the debugger joined.
    const init = await unary(daemon.client, Runtime.execSync, { containerId: debug, cmd: ['cat', '/proc/1/cmdline'], timeout: 30n });
    expect(init.stdout.toString().split('\0')).toEqual(['sleep', '4711', '']);
    await daemon.stopAndRemovePod(podId);
  }, BOOT_MS);

  test('an unknown target, one of another pod or one not running is refused, naming it', async () => {
    const podId = await daemon.runPod('debug-refused', 'runc');
    const elsewhere = await daemon.runPod('debug-elsewhere', 'runc');
    const foreign = await daemon.createContainer(elsewhere, 'foreign', ['sleep', '600']);
    await start(foreign);
    const created = await daemon.createContainer(podId, 'created', ['sleep', '600']);

    const unknown = await grpcFailure(daemon.createContainer(podId, 'debug-unknown', ['sleep', '600'], targeting('f'.repeat(64))));
    expect(unknown).toMatchObject({ code: Code.NOT_FOUND, details: expect.stringContaining(`container "${'f'.repeat(64)}" not found`) });
    const other = await grpcFailure(daemon.createContainer(podId, 'debug-foreign', ['sleep', '600'], targeting(foreign)));
    expect(other).toMatchObject({ code: Code.NOT_FOUND, details: expect.stringContaining(foreign) });
    const notRunning = await grpcFailure(daemon.createContainer(podId, 'debug-created', ['sleep', '600'], targeting(created)));
    expect(notRunning).toMatchObject({ code: Code.FAILED_PRECONDITION, details: expect.stringContaining(`container ${created} is created, not running`) });
    const noTarget = await grpcFailure(daemon.createContainer(podId, 'debug-none', ['sleep', '600'], targeting('')));
    expect(noTarget).toMatchObject({ code: Code.INVALID_ARGUMENT, details: expect.stringContaining('target_id is empty') });

    // The refused creations left nothing: the names are free again.
    const { containers } = await unary(daemon.client, Runtime.listContainers, { filter: { podSandboxId: podId, id: '', state: undefined, labelSelector: {} } });
    expect(containers.map((container) => container.metadata?.name)).toEqual(['created']);
    await daemon.stopAndRemovePod(podId);
    await daemon.stopAndRemovePod(elsewhere);
  }, 60_000);
});
