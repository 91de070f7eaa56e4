import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { newId } from '../system/ids';
import { FailedPreconditionError, InvalidArgumentError } from '../system/errors';
import { readMountInfo } from '../system/mountinfo';
import { cgroupVersion, createPodCgroup, joinPodCgroup, removePodCgroup } from '../oci/cgroups/pod-cgroup';
import { podSliceName, slicePath } from '../oci/cgroups/systemd-slice';

// Worked out here from the mount table, not by the code under test: every controller
// hierarchy and the unified one, but not the init system's name=systemd tracking hierarchy.
async function expectedHierarchies(): Promise<string[]> {
  const mounts = await readMountInfo();
  return mounts
    .filter((m) => m.fsType === 'cgroup2' || (m.fsType === 'cgroup' && !m.superOptions.some((o) => o.startsWith('name='))))
    .map((m) => m.mountPoint);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function existingIn(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const root of await expectedHierarchies()) if (await exists(join(root, path))) found.push(root);
  return found;
}

describe('pod cgroups (cgroupfs)', () => {
  // Paths made by a test, removed deepest first afterwards whatever the test did.
  let cleanup: string[] = [];
  let sleeper: ChildProcess | undefined;

  afterEach(async () => {
    if (sleeper !== undefined && sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = new Promise((done) => sleeper?.once('exit', done));
      sleeper.kill('SIGKILL');
      await exited;
    }
    sleeper = undefined;
    for (const path of cleanup.sort((a, b) => b.length - a.length)) {
      for (const root of await expectedHierarchies()) await rmdir(join(root, path)).catch(() => undefined);
    }
    cleanup = [];
  });

  test('this host is detected as the cgroup version its root filesystem is', async () => {
    const rootType = (await readMountInfo()).find((m) => m.mountPoint === '/sys/fs/cgroup')?.fsType;
    expect(await cgroupVersion()).toBe(rootType === 'cgroup2' ? 'v2' : 'v1');
  });

  test('with no parent the pod gets /podvisor/pod-<id> in every hierarchy; removal leaves nothing, twice', async () => {
    const podId = newId();
    const cgroup = await createPodCgroup('cgroupfs', '', podId);
    cleanup.push(cgroup.path);
    expect(cgroup.path).toBe(`/podvisor/pod-${podId}`);
    const hierarchies = await expectedHierarchies();
    expect(hierarchies.length).toBeGreaterThan(0);
    expect(await existingIn(cgroup.path)).toEqual(hierarchies);
    expect(await exists(join('/sys/fs/cgroup/systemd', cgroup.path))).toBe(false);

    await removePodCgroup(cgroup);
    await removePodCgroup(cgroup);
    expect(await existingIn(cgroup.path)).toEqual([]);
    // The shared parent stays for the other pods.
    expect(await existingIn('/podvisor')).toEqual(hierarchies);
  });

  test('a kubelet pod-level parent is the pod cgroup itself, and its ancestors outlive the pod', async () => {
    const top = `/kubepods-test-${newId().slice(0, 8)}`;
    const parent = `${top}/besteffort/pod${newId().slice(0, 12)}`;
    cleanup.push(top, `${top}/besteffort`, parent);
    const cgroup = await createPodCgroup('cgroupfs', parent, newId());
    expect(cgroup.path).toBe(parent);
    expect(await existingIn(parent)).toEqual(await expectedHierarchies());

    await removePodCgroup(cgroup);
    expect(await existingIn(parent)).toEqual([]);
    expect(await existingIn(`${top}/besteffort`)).toEqual(await expectedHierarchies());
  });

  test('a pod cgroup the kubelet made already is used but never removed', async () => {
    const parent = `/kubepods-test-${newId().slice(0, 8)}`;
    cleanup.push(parent);
    for (const root of await expectedHierarchies()) await mkdir(join(root, parent));
    const cgroup = await createPodCgroup('cgroupfs', parent, newId());
    await removePodCgroup(cgroup);
    expect(await existingIn(parent)).toEqual(await expectedHierarchies());
  });

  test('a process joins the pod cgroup everywhere; removal waits for it and refuses while it lives', async () => {
    const cgroup = await createPodCgroup('cgroupfs', '', newId());
    cleanup.push(cgroup.path);
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    sleeper = child;
    const pid = child.pid ?? 0;
    await joinPodCgroup(cgroup.path, pid);
    const memberships = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
    const inPod = memberships.filter((line) => line.endsWith(`:${cgroup.path}`));
    // One line per hierarchy the pod cgroup lives in (a v1 line may name several controllers).
    expect(inPod).toHaveLength((await expectedHierarchies()).length);

    await expect(removePodCgroup(cgroup)).rejects.toThrow(FailedPreconditionError);
    child.kill('SIGKILL');
    await new Promise((done) => child.once('exit', done));
    await removePodCgroup(cgroup);
    expect(await existingIn(cgroup.path)).toEqual([]);
  });

  test('a container cgroup left inside the pod cgroup is removed with it', async () => {
    const cgroup = await createPodCgroup('cgroupfs', '', newId());
    cleanup.push(cgroup.path, `${cgroup.path}/leftover`);
    for (const root of await expectedHierarchies()) await mkdir(join(root, cgroup.path, 'leftover'));
    await removePodCgroup(cgroup);
    expect(await existingIn(cgroup.path)).toEqual([]);
  });

  test('a v1 cpuset pod cgroup gets its parent CPUs and memory nodes, so processes can join it', async () => {
    const cpuset = (await readMountInfo()).find((m) => m.fsType === 'cgroup' && m.superOptions.includes('cpuset'));
    if (cpuset === undefined) return;
    const cgroup = await createPodCgroup('cgroupfs', '', newId());
    cleanup.push(cgroup.path);
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const value = (await readFile(join(cpuset.mountPoint, cgroup.path, file), 'utf8')).trim();
      expect(value).not.toBe('');
      expect(value).toBe((await readFile(join(cpuset.mountPoint, file), 'utf8')).trim());
    }
  });

  test('a systemd slice or an escaping path as cgroupfs parent, or an escaping pod ID, is refused, naming it, and nothing is made', async () => {
    await expect(createPodCgroup('cgroupfs', 'kubepods-besteffort-pod1.slice', newId())).rejects.toThrow(
      new InvalidArgumentError('cgroup parent "kubepods-besteffort-pod1.slice" is a systemd slice but cgroup_manager is cgroupfs'),
    );
    await expect(createPodCgroup('cgroupfs', '/kubepods-test/../../etc', newId())).rejects.toThrow(/"\/kubepods-test\/\.\.\/\.\.\/etc"/);
    await expect(createPodCgroup('cgroupfs', '', '../../escape')).rejects.toThrow(new InvalidArgumentError('pod ID "../../escape" cannot name a cgroup'));
    for (const made of ['kubepods-besteffort-pod1.slice', 'kubepods-test', 'etc', 'escape']) expect(await existingIn(made)).toEqual([]);
  });
});

describe('pod cgroups (systemd)', () => {
  test('slice names map to nested slice paths', () => {
    expect(slicePath('kubepods-besteffort-pod123.slice')).toBe('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice');
    expect(slicePath('kubepods.slice')).toBe('/kubepods.slice');
    expect(slicePath('-.slice')).toBe('/');
    expect(slicePath(podSliceName('podvisor.slice', 'ab-cd'))).toBe('/podvisor.slice/podvisor-podab_cd.slice');
  });

  test.each(['kubepods', 'kubepods--x.slice', '-kubepods.slice', 'kubepods-.slice', '/kubepods/pod1', 'a/b.slice'])(
    'a bad slice name "%s" is refused',
    (name) => {
      expect(() => slicePath(name)).toThrow(InvalidArgumentError);
      expect(() => slicePath(name)).toThrow(name);
    },
  );

  test('without a reachable systemd, creation fails saying so', async () => {
    if (await exists('/run/dbus/system_bus_socket')) return;
    await expect(createPodCgroup('systemd', '', newId())).rejects.toThrow(/systemd is not reachable/);
    await expect(createPodCgroup('systemd', '', newId())).rejects.toThrow(FailedPreconditionError);
  });
});
