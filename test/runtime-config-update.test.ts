// UpdateRuntimeConfig as the kubelet sends it once its node has a pod CIDR: accepted, shown in
// `crictl info` (Status verbose), kept across a daemon restart, and a bad CIDR refused.
import { status as Code, type Client } from '@grpc/grpc-js';
import { writeFile } from 'node:fs/promises';
import { RuntimeServiceService as Runtime } from '../proto/gen/cri-api-v1';
import { criClient, unary } from '../testbed/cri-client';
import { DaemonProcess, isolatingFlags, removeDirs, testDirs, type TestDirs } from '../testbed/daemon-process';
import { grpcFailure } from './support/grpc-failure';

describe('UpdateRuntimeConfig', () => {
  let dirs: TestDirs;
  let daemon: DaemonProcess;
  let client: Client;
  const start = async (): Promise<void> => {
    daemon = await DaemonProcess.serving([...isolatingFlags(dirs), '--log-level', 'info']);
    client = criClient(dirs.socket);
  };

  beforeAll(async () => {
    dirs = await testDirs();
    await writeFile(dirs.configFile, '');
    await start();
  });

  afterAll(async () => {
    client?.close();
    await daemon?.stop('SIGKILL');
    await removeDirs(dirs);
  });

  const send = (podCidr: string): Promise<unknown> => unary(client, Runtime.updateRuntimeConfig, { runtimeConfig: { networkConfig: { podCidr } } });

  /** The pod CIDR as `crictl info` prints it. */
  async function shownPodCidr(): Promise<string> {
    const { info } = await unary(client, Runtime.status, { verbose: true });
    return (JSON.parse(info.runtimeConfig) as { networkConfig: { podCidr: string } }).networkConfig.podCidr;
  }

  test("the node's pod CIDR is accepted, shown in crictl info, and its change logged once", async () => {
    expect(await shownPodCidr()).toBe('');
    await send('10.88.0.0/24');
    expect(await shownPodCidr()).toBe('10.88.0.0/24');
    // The kubelet sends it again on every node status sync: no news, no log line.
    await send('10.88.0.0/24');
    // A dual-stack node has one of each family.
    await send('10.89.0.0/24,fd00:89::/64');
    expect(await shownPodCidr()).toBe('10.89.0.0/24,fd00:89::/64');
    await daemon.waitForOutput('pod CIDR changed pod_cidr=10.89.0.0/24,fd00:89::/64');
    expect(daemon.log.match(/pod CIDR changed pod_cidr=10\.88\.0\.0\/24 /g)).toHaveLength(1);
  });

  test('an empty pod CIDR changes nothing', async () => {
    await send('10.90.0.0/24');
    await send('');
    expect(await shownPodCidr()).toBe('10.90.0.0/24');
  });

  test.each([
    ['10.0.0.0', '"10.0.0.0" is not a CIDR: has no prefix length'],
    ['10.0.0.0/33', '"10.0.0.0/33" is not a CIDR: prefix length "33" is not between 0 and 32'],
    ['10.0.0.0/24,fd00::/129', '"fd00::/129" is not a CIDR'],
    ['300.1.2.3/8', '"300.1.2.3" is not an IPv4 or IPv6 address'],
    ['10.0.0.0/24,', '"" is not a CIDR'],
  ])('a bad pod CIDR (%s) is refused with INVALID_ARGUMENT naming it, and the one kept stays', async (podCidr, message) => {
    await send('10.91.0.0/24');
    const refused = await grpcFailure(send(podCidr));
    expect(refused.code).toBe(Code.INVALID_ARGUMENT);
    expect(refused.details).toContain(message);
    expect(await shownPodCidr()).toBe('10.91.0.0/24');
  });

  test('the pod CIDR is kept across a restart, a crash too: the kubelet does not send it again', async () => {
    await send('10.92.0.0/24');
    client.close();
    await daemon.stop('SIGKILL');
    await start();
    expect(await shownPodCidr()).toBe('10.92.0.0/24');
  });
});
