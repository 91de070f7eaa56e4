// AppArmor on the host: detection, the profiles containers name, and our RuntimeDefault
// profile, compiled by the real apparmor_parser. This kernel runs without AppArmor, so loading
// into the kernel is played by a parser stand-in that records the profile in a fake securityfs.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppArmor, APPARMOR_HOST, loadedProfileNames, type AppArmorHost } from '../apparmor/apparmor';
import { defaultProfile } from '../apparmor/default-profile';
import { selinuxEnabled } from '../apparmor/selinux';
import { FailedPreconditionError } from '../system/errors';
import { createLogger } from '../system/logger';
import { CommandFailedError } from '../system/run-tool';

const logger = createLogger('error', 'json');

describe('AppArmor', () => {
  let dir: string;
  let host: AppArmorHost;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'podvisor-apparmor-'));
    host = { moduleParameter: join(dir, 'enabled'), securityDir: join(dir, 'security'), parser: join(dir, 'apparmor_parser') };
    await mkdir(host.securityDir);
    await writeFile(host.moduleParameter, 'Y\n');
    await writeFile(join(host.securityDir, 'profiles'), 'k8s-nginx (enforce)\n/usr/bin/man (complain)\n');
    // Loads like the kernel would: the profile named in the policy read from stdin joins the list.
    await writeFile(
      host.parser,
      `#!/bin/sh\nname=$(sed -n 's/^profile \\([^ ]*\\) .*/\\1/p')\necho "$*" >> ${join(dir, 'parser-calls')}\necho "$name (enforce)" >> ${join(host.securityDir, 'profiles')}\n`,
    );
    await chmod(host.parser, 0o755);
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('the RuntimeDefault profile is valid policy for the real apparmor_parser', async () => {
    const apparmor = await AppArmor.detect('podvisor-default', logger, { ...APPARMOR_HOST, moduleParameter: join(dir, 'absent') });
    await expect(apparmor.checkDefaultProfile()).resolves.toBeUndefined();
    expect(defaultProfile('my-default')).toMatch(/^profile my-default flags=/m);
    const broken = await AppArmor.detect('bad name!', logger, APPARMOR_HOST);
    await expect(broken.checkDefaultProfile()).rejects.toThrow(CommandFailedError);
  });

  test('enabled only where the module says Y and securityfs is there', async () => {
    expect((await AppArmor.detect('p', logger, host)).enabled).toBe(true);
    expect((await AppArmor.detect('p', logger, APPARMOR_HOST)).enabled).toBe(false);
    await writeFile(host.moduleParameter, 'N\n');
    expect((await AppArmor.detect('p', logger, host)).enabled).toBe(false);
    await writeFile(host.moduleParameter, 'Y\n');
    expect((await AppArmor.detect('p', logger, { ...host, securityDir: join(dir, 'nowhere') })).enabled).toBe(false);
  });

  test('a loaded localhost profile is accepted; one not loaded is refused by name', async () => {
    const apparmor = await AppArmor.detect('podvisor-default', logger, host);
    await expect(apparmor.prepare('k8s-nginx')).resolves.toBeUndefined();
    await expect(apparmor.prepare('k8s-absent')).rejects.toThrow(new FailedPreconditionError('AppArmor profile "k8s-absent" is not loaded on this host'));
    await expect(readFile(join(dir, 'parser-calls'), 'utf8')).rejects.toThrow();
  });

  test('the default profile is loaded once, on first use, even when containers ask at once', async () => {
    const apparmor = await AppArmor.detect('podvisor-default', logger, host);
    await Promise.all([apparmor.prepare('podvisor-default'), apparmor.prepare('podvisor-default')]);
    await apparmor.prepare('podvisor-default');
    expect(await readFile(join(dir, 'parser-calls'), 'utf8')).toBe('-Kr\n');
    expect(loadedProfileNames(await readFile(join(host.securityDir, 'profiles'), 'utf8'))).toEqual(new Set(['k8s-nginx', '/usr/bin/man', 'podvisor-default']));
  });

  test('SELinux is off on this host, and read from its enforce switch', async () => {
    expect(await selinuxEnabled()).toBe(false);
    await writeFile(join(dir, 'enforce'), '1');
    expect(await selinuxEnabled(join(dir, 'enforce'))).toBe(true);
    await writeFile(join(dir, 'enforce'), '0');
    expect(await selinuxEnabled(join(dir, 'enforce'))).toBe(true);
  });
});
