import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecurityProfile_ProfileType, type SecurityProfile } from '../proto/gen/cri-api-v1';
import { seccompFor, type SeccompOptions } from '../seccomp/profile';
import { InvalidArgumentError } from '../system/errors';
import { evaluateSeccomp } from './support/seccomp-evaluate';

const DEFAULT_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SYS_CHROOT'];
const CLONE_NEWNS = 0x20000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_THREAD_FLAGS = 0x3d0f00;
const EPERM = 1;
const ENOSYS = 38;

let root: string;
let options: SeccompOptions;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'podvisor-seccomp-'));
  options = { seccompProfileRoot: root, capabilities: DEFAULT_CAPS, privileged: false, arch: 'x64' };
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function profile(profileType: SecurityProfile_ProfileType, localhostRef = ''): SecurityProfile {
  return { profileType, localhostRef };
}

async function runtimeDefault(overrides: Partial<SeccompOptions> = {}) {
  const filter = await seccompFor(profile(SecurityProfile_ProfileType.RuntimeDefault), '', { ...options, ...overrides });
  if (filter === undefined) throw new Error('RuntimeDefault gave no filter');
  return filter;
}

describe('RuntimeDefault', () => {
  test('is well-formed OCI LinuxSeccomp for the host ABIs', async () => {
    const filter = await runtimeDefault();
    expect(filter.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(filter.defaultErrnoRet).toBe(EPERM);
    expect(filter.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const known = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'];
    for (const rule of filter.syscalls) {
      expect(known).toContain(rule.action);
      expect(rule.names.length).toBeGreaterThan(0);
      for (const name of rule.names) expect(name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(Object.keys(rule).every((key) => ['names', 'action', 'errnoRet', 'args'].includes(key))).toBe(true);
    }
    expect(JSON.parse(JSON.stringify(filter))).toEqual(filter);
  });

  test.each(['read', 'write', 'openat', 'execve', 'exit_group', 'futex', 'mmap', 'socket', 'ptrace', 'chroot'])('allows %s', async (syscall) => {
    expect(evaluateSeccomp(await runtimeDefault(), syscall).action).toBe('SCMP_ACT_ALLOW');
  });

  test.each([
    'unshare', 'mount', 'umount2', 'setns', 'pivot_root', 'add_key', 'keyctl', 'request_key', 'bpf', 'clock_settime', 'clock_adjtime',
    'init_module', 'finit_module', 'delete_module', 'create_module', 'kexec_load', 'kexec_file_load', 'lookup_dcookie', 'move_pages',
    'name_to_handle_at', 'open_by_handle_at', 'perf_event_open', 'process_vm_readv', 'process_vm_writev', 'quotactl', 'reboot',
    'swapon', 'swapoff', 'sysfs', '_sysctl', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old', 'io_uring_setup', 'syslog',
  ])('refuses %s with EPERM', async (syscall) => {
    expect(evaluateSeccomp(await runtimeDefault(), syscall)).toEqual({ action: 'SCMP_ACT_ERRNO', errno: EPERM });
  });

  test('clone may make threads and processes but not namespaces; clone3 says ENOSYS so libc falls back', async () => {
    const filter = await runtimeDefault();
    expect(evaluateSeccomp(filter, 'clone', [CLONE_THREAD_FLAGS]).action).toBe('SCMP_ACT_ALLOW');
    expect(evaluateSeccomp(filter, 'clone', [CLONE_NEWNS]).errno).toBe(EPERM);
    expect(evaluateSeccomp(filter, 'clone', [CLONE_NEWUSER | 17]).errno).toBe(EPERM);
    expect(evaluateSeccomp(filter, 'clone3')).toEqual({ action: 'SCMP_ACT_ERRNO', errno: ENOSYS });
  });

  test('personality only for the default, 32-bit and query values', async () => {
    const filter = await runtimeDefault();
    expect(evaluateSeccomp(filter, 'personality', [0]).action).toBe('SCMP_ACT_ALLOW');
    expect(evaluateSeccomp(filter, 'personality', [0xffffffff]).action).toBe('SCMP_ACT_ALLOW');
    expect(evaluateSeccomp(filter, 'personality', [0x0040000]).action).toBe('SCMP_ACT_ERRNO');
  });

  test('CAP_SYS_ADMIN opens mount and namespace calls and drops the clone filters', async () => {
    const filter = await runtimeDefault({ capabilities: [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'] });
    for (const syscall of ['mount', 'unshare', 'setns', 'clone3']) expect(evaluateSeccomp(filter, syscall).action).toBe('SCMP_ACT_ALLOW');
    expect(evaluateSeccomp(filter, 'clone', [CLONE_NEWNS]).action).toBe('SCMP_ACT_ALLOW');
    expect(filter.syscalls.filter((rule) => rule.names.includes('clone3')).map((rule) => rule.action)).toEqual(['SCMP_ACT_ALLOW']);
    expect(evaluateSeccomp(filter, 'reboot').action).toBe('SCMP_ACT_ERRNO');
  });

  test('an arm64 host gets the arm ABIs', async () => {
    expect((await runtimeDefault({ arch: 'arm64' })).architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });
});

describe('choosing a profile', () => {
  test('Unconfined, no profile and privileged containers get no filter', async () => {
    expect(await seccompFor(profile(SecurityProfile_ProfileType.Unconfined), '', options)).toBeUndefined();
    expect(await seccompFor(undefined, '', options)).toBeUndefined();
    expect(await seccompFor(profile(SecurityProfile_ProfileType.RuntimeDefault), '', { ...options, privileged: true })).toBeUndefined();
  });

  test.each(['runtime/default', 'docker/default'])('legacy %s is RuntimeDefault', async (legacy) => {
    const filter = await seccompFor(undefined, legacy, options);
    expect(filter && evaluateSeccomp(filter, 'mount').action).toBe('SCMP_ACT_ERRNO');
  });

  test('legacy unconfined is none and nonsense is refused', async () => {
    expect(await seccompFor(undefined, 'unconfined', options)).toBeUndefined();
    await expect(seccompFor(undefined, 'strict', options)).rejects.toThrow(/seccomp_profile_path "strict"/);
  });

  test('the structured profile wins over the legacy string', async () => {
    expect(await seccompFor(profile(SecurityProfile_ProfileType.Unconfined), 'runtime/default', options)).toBeUndefined();
  });
});

describe('Localhost profiles', () => {
  const audit = { defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };

  test('relative to the seccomp root, absolute, and through the legacy string', async () => {
    await writeFile(join(root, 'audit.json'), JSON.stringify(audit));
    const expected = { defaultAction: 'SCMP_ACT_LOG', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: audit.syscalls };
    expect(await seccompFor(profile(SecurityProfile_ProfileType.Localhost, 'audit.json'), '', options)).toEqual(expected);
    expect(await seccompFor(profile(SecurityProfile_ProfileType.Localhost, join(root, 'audit.json')), '', options)).toEqual(expected);
    expect(await seccompFor(undefined, `localhost/${join(root, 'audit.json')}`, options)).toEqual(expected);
  });

  test('a profile naming its architectures keeps them', async () => {
    await writeFile(join(root, 'arch.json'), JSON.stringify({ ...audit, architectures: ['SCMP_ARCH_X86_64'] }));
    const filter = await seccompFor(profile(SecurityProfile_ProfileType.Localhost, 'arch.json'), '', options);
    expect(filter?.architectures).toEqual(['SCMP_ARCH_X86_64']);
  });

  describe('in the format of Docker and containers-common', () => {
    const CONTAINERS_COMMON = '/usr/share/containers/seccomp.json';
    const localhost = (ref: string, overrides: Partial<SeccompOptions> = {}) => seccompFor(profile(SecurityProfile_ProfileType.Localhost, ref), '', { ...options, ...overrides });

    test("containers-common's default profile loads, resolved for the container's capabilities and the host's architecture", async () => {
      const filter = await localhost(CONTAINERS_COMMON);
      if (filter === undefined) throw new Error('no filter');
      expect(filter.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
      expect(evaluateSeccomp(filter, 'arch_prctl').action).toBe('SCMP_ACT_ALLOW');
      expect(evaluateSeccomp(filter, 's390_pci_mmio_read').action).toBe('SCMP_ACT_ERRNO');
      expect(evaluateSeccomp(filter, 'bpf').action).toBe('SCMP_ACT_ERRNO');
      const admin = await localhost(CONTAINERS_COMMON, { capabilities: [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'] });
      expect(admin && evaluateSeccomp(admin, 'bpf').action).toBe('SCMP_ACT_ALLOW');
      const arm = await localhost(CONTAINERS_COMMON, { arch: 'arm64' });
      expect(arm?.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
      expect(arm && evaluateSeccomp(arm, 'arch_prctl').action).toBe('SCMP_ACT_ERRNO');
    });

    test('minKernel includes a rule from that kernel on and excludes it from then on', async () => {
      const rule = { action: 'SCMP_ACT_ERRNO', errnoRet: 1 };
      await writeFile(
        join(root, 'kernel.json'),
        JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['reboot'], ...rule, includes: { minKernel: '5.10' } }, { names: ['sync'], ...rule, excludes: { minKernel: '5.10' } }] }),
      );
      const names = async (kernelRelease: string) => (await localhost('kernel.json', { kernelRelease }))?.syscalls.flatMap((syscall) => syscall.names);
      expect(await names('5.4.0-100-generic')).toEqual(['sync']);
      expect(await names('5.10.0-28-amd64')).toEqual(['reboot']);
      expect(await names('6.1.0')).toEqual(['reboot']);
    });

    test('a profile giving both architectures and archMap is refused', async () => {
      await writeFile(join(root, 'both.json'), JSON.stringify({ ...audit, architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] }] }));
      await expect(localhost('both.json')).rejects.toThrow(/both architectures and archMap/);
    });
  });

  test('a missing file is refused naming it', async () => {
    const missing = join(root, 'missing.json');
    const result = seccompFor(profile(SecurityProfile_ProfileType.Localhost, missing), '', options);
    await expect(result).rejects.toThrow(InvalidArgumentError);
    await expect(result).rejects.toThrow(`${missing} does not exist`);
  });

  test.each([
    ['not JSON', '{"defaultAction": ', /broken.json: is not valid JSON/],
    ['an unknown action', JSON.stringify({ defaultAction: 'SCMP_ACT_MAYBE' }), /broken.json: defaultAction has unknown action "SCMP_ACT_MAYBE"/],
    ['a numeric syscall', JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [59], action: 'SCMP_ACT_ERRNO' }] }), /syscalls\[0\].names/],
    ['a bad operator', JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'LIKE' }] }] }), /args\[0\].op/],
  ])('a file with %s is refused naming it', async (_what, text, message) => {
    await writeFile(join(root, 'broken.json'), text);
    const result = seccompFor(profile(SecurityProfile_ProfileType.Localhost, 'broken.json'), '', options);
    await expect(result).rejects.toThrow(InvalidArgumentError);
    await expect(result).rejects.toThrow(message);
  });

  test('a relative reference may not climb out of the seccomp root, and an empty one is refused', async () => {
    await expect(seccompFor(profile(SecurityProfile_ProfileType.Localhost, '../etc/passwd'), '', options)).rejects.toThrow(/leaves the seccomp directory/);
    await expect(seccompFor(profile(SecurityProfile_ProfileType.Localhost, ''), '', options)).rejects.toThrow(/localhost_ref is empty/);
  });
});
