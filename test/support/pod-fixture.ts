// One daemon serving one ready pod, with a busybox image pulled from a real registry: what
// the container-level suites start from.
import type { Client } from '@grpc/grpc-js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageServiceService, ImageSpec, PodSandboxConfig, RuntimeServiceService } from '../../proto/gen/cri-api-v1';
import { criClient, unary } from '../../testbed/cri-client';
import { DaemonProcess, isolatingFlags, removeDirs, testDirs, type TestDirs } from '../../testbed/daemon-process';
import { busyboxLayer, pushImage } from '../../testbed/test-images';
import { startRegistry, type TestRegistry } from '../../testbed/test-registry';

export interface PodFixture {
  registry: TestRegistry;
  dirs: TestDirs;
  /** Replaceable: a suite may restart the daemon. */
  daemon: DaemonProcess;
  client: Client;
  image: string;
  podId: string;
}

/**
 * Starts the registry and the daemon and runs a pod named `name` on a bridge of its own.
 * `network` names the bridge and subnet so suites running at once never share them.
 */
export async function startPodFixture(name: string, network: { bridge: string; subnet: string }, flags: string[] = []): Promise<PodFixture> {
  const registry = await startRegistry();
  await pushImage(registry.host, 'test/busybox', 'latest', { layers: [await busyboxLayer()], config: { config: { Cmd: ['sh'] } } });
  const image = `${registry.host}/test/busybox:latest`;
  const dirs = await testDirs();
  const registriesConf = join(dirs.dir, 'registries.conf');
  await writeFile(dirs.configFile, '');
  await writeFile(registriesConf, `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`);
  await writeFile(
    join(dirs.cniDir, '10-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `podvisor-${network.bridge}`,
      plugins: [{ type: 'bridge', bridge: network.bridge, ipam: { type: 'host-local', dataDir: join(dirs.dir, 'cni-data'), ranges: [[{ subnet: network.subnet }]] } }],
    }),
  );
  const daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--registries-conf', registriesConf, ...flags]);
  const client = criClient(dirs.socket);
  await unary(client, ImageServiceService.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined });
  const { podSandboxId } = await unary(client, RuntimeServiceService.runPodSandbox, {
    config: PodSandboxConfig.fromPartial({ metadata: { name, namespace: 'test', uid: `uid-${network.bridge}` }, hostname: name, logDirectory: join(dirs.dir, 'logs') }),
    runtimeHandler: '',
  });
  return { registry, dirs, daemon, client, image, podId: podSandboxId };
}

/** Removes the pod and stops everything the fixture started. */
export async function stopPodFixture(fixture: PodFixture | undefined): Promise<void> {
  if (!fixture) return;
  await unary(fixture.client, RuntimeServiceService.removePodSandbox, { podSandboxId: fixture.podId }).catch(() => undefined);
  fixture.client.close();
  await fixture.daemon.stop();
  await fixture.registry.stop();
  await removeDirs(fixture.dirs);
}
