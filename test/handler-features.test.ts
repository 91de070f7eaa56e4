// The runtime handler features Status reports, as the kubelet reads them to decide what it may
// send: recursive read-only mounts where the kernel and the OCI runtime make them (and then they
// are made), refused where they are not; user namespaces nowhere (no ID-mapped mounts).
import { status as Code } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MountPropagation, RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { hasMountSetattr } from '../oci/recursive-read-only';
import { unary } from '../testbed/cri-client';
import { CLOSE_MS, ContainerDaemon } from './support/container-daemon';
import { grpcFailure } from './support/grpc-failure';

const run = promisify(execFile);
const RUNC = '/usr/bin/runc';

/** What the CRI tells runc-compatible runtimes to check, asked of runc here directly. */
async function runcMakesRro(): Promise<boolean> {
  const { stdout } = await run(RUNC, ['features']);
  return hasMountSetattr(release()) && (JSON.parse(stdout) as { mountOptions: string[] }).mountOptions.includes('rro');
}

describe('runtime handler features', () => {
  let daemon: ContainerDaemon;
  let scratch: string;
  let volume: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'podvisor-features-'));
    // runc as a release before `runc features` existed: the one edge made to fail on cue.
    const oldRunc = join(scratch, 'runc-without-features');
    await writeFile(oldRunc, `#!/bin/sh\n[ "$1" = features ] && exit 1\nexec ${RUNC} "$@"\n`);
    await chmod(oldRunc, 0o755);
    // A volume with a filesystem mounted inside it, which only a recursive read-only bind makes read-only too.
    volume = join(scratch, 'volume');
    await mkdir(join(volume, 'inner'), { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', join(volume, 'inner')]);
    const config = [
      '[runtime]',
      'default_handler = "runc"',
      '[runtime.handlers.runc]',
      'type = "oci"',
      `runtime_path = "${RUNC}"`,
      '[runtime.handlers.runc-old]',
      'type = "oci"',
      `runtime_path = "${oldRunc}"`,
      '[runtime.handlers.vm]',
      'type = "vm"',
    ].join('\n');
    daemon = await ContainerDaemon.start('10.219.68.0/24', { config });
  }, 120_000);

  afterAll(async () => {
    await daemon?.close();
    await run('umount', [join(volume, 'inner')]).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }, CLOSE_MS);

  const volumeMount = (recursiveReadOnly: boolean, propagation = MountPropagation.PROPAGATION_PRIVATE) => ({
    mounts: [{ containerPath: '/data', hostPath: volume, readonly: true, recursiveReadOnly, propagation }],
  });
  const writes = async (podId: string, name: string, recursiveReadOnly: boolean): Promise<number> => {
    const id = await daemon.createContainer(podId, name, ['sleep', '600'], volumeMount(recursiveReadOnly));
    await unary(daemon.client, Runtime.startContainer, { containerId: id });
    return (await unary(daemon.client, Runtime.execSync, { containerId: id, cmd: ['touch', '/data/inner/file'], timeout: 30n })).exitCode;
  };

  test('Status reports recursive read-only mounts where the kernel and the runtime make them, user namespaces nowhere', async () => {
    const { runtimeHandlers } = await unary(daemon.client, Runtime.status, { verbose: false });
    const features = Object.fromEntries(runtimeHandlers.map((handler) => [handler.name, handler.features]));
    const rro = await runcMakesRro();
    expect(features).toEqual({
      '': { recursiveReadOnlyMounts: rro, userNamespaces: false },
      runc: { recursiveReadOnlyMounts: rro, userNamespaces: false },
      'runc-old': { recursiveReadOnlyMounts: false, userNamespaces: false },
      vm: { recursiveReadOnlyMounts: false, userNamespaces: false },
    });
  });

  test('a recursive read-only mount is read-only all the way down; a plain read-only one only at its top', async () => {
    if (!(await runcMakesRro())) throw new Error('this host cannot make recursive read-only mounts; the case needs one that can');
    const podId = await daemon.runPod('rro', 'runc');
    expect(await writes(podId, 'recursive', true)).not.toBe(0);
    expect(await writes(podId, 'plain', false)).toBe(0);
    await daemon.stopAndRemovePod(podId);
  }, 60_000);

  test('a recursive read-only mount is refused by a handler that cannot make it, and without private propagation', async () => {
    const oldPod = await daemon.runPod('rro-old', 'runc-old');
    const refused = await grpcFailure(daemon.createContainer(oldPod, 'recursive', ['sleep', '600'], volumeMount(true)));
    expect(refused).toMatchObject({ code: Code.INVALID_ARGUMENT, details: expect.stringContaining('recursive_read_only is not supported by runtime handler "runc-old"') });
    const podId = await daemon.runPod('rro-propagation', 'runc');
    const propagated = await grpcFailure(daemon.createContainer(podId, 'slave', ['sleep', '600'], volumeMount(true, MountPropagation.PROPAGATION_HOST_TO_CONTAINER)));
    expect(propagated).toMatchObject({ code: Code.INVALID_ARGUMENT, details: expect.stringContaining('recursive_read_only needs propagation PROPAGATION_PRIVATE') });
    await daemon.stopAndRemovePod(oldPod);
    await daemon.stopAndRemovePod(podId);
  }, 60_000);
});
