import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageServiceService as Images, ImageSpec, RuntimeServiceService as Runtime, SecurityProfile_ProfileType } from '../proto/gen/cri-api-v1';
import { unary } from '../testbed/cri-client';
import { busyboxLayer, pushImage } from '../testbed/test-images';
import { CLOSE_MS, ContainerDaemon, type ContainerOptions } from './support/container-daemon';

// Behaviours where Podvisor answered differently from both CRI-O and containerd (issue 18, 9).

const VM_MS = 180_000;
// Debian's golang-github-containers-common: the default profile of CRI-O and Podman.
const CONTAINERS_COMMON_PROFILE = '/usr/share/containers/seccomp.json';
// Go's name for this host's architecture, as profiles' `arches` spell it.
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
const EACCES = 13;

describe('behaviours the peers share', () => {
  let fixture: ContainerDaemon;
  let podId: string;

  beforeAll(async () => {
    fixture = await ContainerDaemon.start('10.219.70.0/24');
    podId = await fixture.runPod('peers', 'runc');
  }, 60_000);

  afterAll(() => fixture?.close(), CLOSE_MS);

  const exec = async (containerId: string, script: string) => {
    const { stdout, stderr, exitCode } = await unary(fixture.client, Runtime.execSync, { containerId, cmd: ['sh', '-c', script], timeout: 30n });
    return { out: stdout.toString().trim(), err: stderr.toString(), exitCode };
  };
  const pull = async (image: string) => (await unary(fixture.client, Images.pullImage, { image: ImageSpec.fromPartial({ image }), auth: undefined, sandboxConfig: undefined })).imageRef;
  const imageStatus = async (image: string) => (await unary(fixture.client, Images.imageStatus, { image: ImageSpec.fromPartial({ image }), verbose: false })).image;
  const running = async (name: string, extra: ContainerOptions = {}) => {
    const id = await fixture.createContainer(podId, name, ['sleep', '600'], extra);
    await unary(fixture.client, Runtime.startContainer, { containerId: id });
    return id;
  };
  const status = async (containerId: string) => (await unary(fixture.client, Runtime.containerStatus, { containerId, verbose: false })).status;

  describe('ContainerStatus names the image by repo tag and repo digest', () => {
    test('created as the kubelet does (by image ID), it reports the tag the user named and the digest', async () => {
      const id = await pull(fixture.image);
      const { repoDigests } = (await imageStatus(fixture.image)) ?? { repoDigests: [] };
      expect(repoDigests).toEqual([expect.stringMatching(new RegExp(`^${fixture.registryHost}/test/busybox@sha256:[0-9a-f]{64}$`))]);
      const containerId = await fixture.createContainer(podId, 'by-id', ['true'], { image: { image: id, userSpecifiedImage: fixture.image } });
      expect(await status(containerId)).toMatchObject({ image: { image: fixture.image, userSpecifiedImage: fixture.image }, imageRef: repoDigests[0], imageId: id });
    });

    test('with several tags, the one the container was created by; pulled by digest only, the name it was created by', async () => {
      const second = `${fixture.registryHost}/test/busybox:second`;
      const layers = [await busyboxLayer(), [{ type: 'file' as const, path: 'second', content: 'second' }]];
      await pushImage(fixture.registryHost, 'test/busybox', 'second', { layers });
      await pushImage(fixture.registryHost, 'test/busybox', 'third', { layers });
      await pull(second);
      await pull(`${fixture.registryHost}/test/busybox:third`);
      const tagged = await imageStatus(second);
      expect(tagged?.repoTags).toHaveLength(2);
      // The tag it was created by, not the image's first.
      const third = `${fixture.registryHost}/test/busybox:third`;
      const byThird = await fixture.createContainer(podId, 'by-third', ['true'], { image: { image: third } });
      expect(await status(byThird)).toMatchObject({ image: { image: third, userSpecifiedImage: third }, imageRef: tagged?.repoDigests[0] });

      const pushed = await pushImage(fixture.registryHost, 'test/untagged', 'gone', { layers: [await busyboxLayer(), [{ type: 'file', path: 'untagged', content: 'untagged' }]] });
      const byDigest = `${fixture.registryHost}/test/untagged@${pushed.manifestDigest}`;
      await pull(byDigest);
      const untagged = await fixture.createContainer(podId, 'by-digest', ['true'], { image: { image: byDigest } });
      expect(await status(untagged)).toMatchObject({ image: { image: byDigest }, imageRef: byDigest });
    });
  });

  describe('Localhost seccomp profiles in the format of Docker and containers-common', () => {
    const localhost = (localhostRef: string, addCapabilities: string[] = []): ContainerOptions => ({
      linux: { securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef }, capabilities: { addCapabilities, dropCapabilities: [], addAmbientCapabilities: [] } } },
    });

    test('load, and their rules apply by capability, architecture and kernel version', async () => {
      const profile = join(fixture.dirs.dir, 'docker-format.json');
      const denied = { action: 'SCMP_ACT_ERRNO', errnoRet: EACCES };
      await writeFile(
        profile,
        JSON.stringify({
          defaultAction: 'SCMP_ACT_ALLOW',
          archMap: [
            { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
            { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
          ],
          syscalls: [
            { names: ['mkdir', 'mkdirat'], ...denied, comment: 'only without CAP_NET_ADMIN', includes: {}, excludes: { caps: ['CAP_NET_ADMIN'] } },
            { names: ['symlink', 'symlinkat'], ...denied, includes: { arches: [GO_ARCH[process.arch] ?? process.arch] }, excludes: {} },
            { names: ['unlink', 'unlinkat'], ...denied, includes: { arches: ['s390x'] } },
            { names: ['link', 'linkat'], ...denied, includes: { minKernel: '99.0' } },
            { names: ['rename', 'renameat', 'renameat2'], ...denied, excludes: { minKernel: '3.0' } },
          ],
        }),
      );
      const plain = await running('docker-format', localhost(profile));
      // The rules that apply here refuse with EACCES; the others leave the calls alone.
      expect(await exec(plain, 'mkdir /tmp/d')).toMatchObject({ exitCode: 1, err: expect.stringContaining('Permission denied') });
      expect(await exec(plain, 'ln -s /bin /tmp/s')).toMatchObject({ exitCode: 1, err: expect.stringContaining('Permission denied') });
      expect(await exec(plain, 'touch /tmp/f && ln /tmp/f /tmp/g && mv /tmp/g /tmp/h && rm /tmp/h && echo done')).toMatchObject({ exitCode: 0, out: 'done' });
      const admin = await running('docker-format-admin', localhost(profile, ['CAP_NET_ADMIN']));
      expect(await exec(admin, 'mkdir /tmp/d && echo made')).toMatchObject({ exitCode: 0, out: 'made' });
    });

    test("containers-common's default profile loads, and its rules for a capability the container holds apply", async () => {
      const id = await running('containers-common', localhost(CONTAINERS_COMMON_PROFILE, ['CAP_SYS_CHROOT']));
      // chroot is only allowed by the rule that includes holders of CAP_SYS_CHROOT.
      expect(await exec(id, 'chroot / true && echo rooted')).toMatchObject({ exitCode: 0, out: 'rooted' });
    });
  });

  describe('pod hostnames', () => {
    test('one the kernel takes, with an underscore, is the hostname of a runc pod', async () => {
      const pod = await fixture.runPod('underscore', 'runc', { hostname: 'crictl_host' });
      const id = await fixture.createContainer(pod, 'app', ['sleep', '600']);
      await unary(fixture.client, Runtime.startContainer, { containerId: id });
      expect(await exec(id, 'hostname; cat /etc/hostname')).toMatchObject({ out: 'crictl_host\ncrictl_host' });
      await fixture.stopAndRemovePod(pod);
    });

    test('one the kernel takes, with an underscore, is the hostname of a VM pod', async () => {
      const pod = await fixture.runPod('vm-underscore', 'vm', { hostname: 'vm_host' });
      const id = await fixture.createContainer(pod, 'app', ['sleep', '600']);
      await unary(fixture.client, Runtime.startContainer, { containerId: id }, VM_MS);
      expect(await exec(id, 'hostname; cat /etc/hostname')).toMatchObject({ out: 'vm_host\nvm_host' });
      await fixture.stopAndRemovePod(pod, VM_MS);
    }, VM_MS * 2);

    test.each([
      ['longer than the 64 bytes the kernel keeps', 'h'.repeat(65)],
      ['of 33 characters but 66 bytes', 'é'.repeat(33)],
      ['with a line break', 'crictl\nhost'],
    ])('one %s is refused', async (_what, hostname) => {
      await expect(fixture.runPod('refused', 'runc', { hostname })).rejects.toMatchObject({ details: expect.stringContaining('config.hostname') });
    });
  });

  test("verbose ContainerStatus answers from the record once the container's config.json is gone", async () => {
    const id = await running('bundle-gone', { command: ['sleep', '601'] });
    await rm(join(fixture.dirs.runroot, 'containers', id, 'config.json'));
    const { status: answered, info } = await unary(fixture.client, Runtime.containerStatus, { containerId: id, verbose: true });
    expect(answered).toMatchObject({ id, metadata: { name: 'bundle-gone' } });
    expect(JSON.parse(info.info)).toMatchObject({ pid: expect.any(Number), runtimeSpec: { process: { args: ['sleep', '601'] } } });
  });
});
