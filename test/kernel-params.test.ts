// The guest kernel's command line: Kata's boot-time defaults and ours, and the operator's own
// parameters (the vm handler's kernel_params), which replace a default with the same key.
import { kernelCommandLine } from '../oci/vm/kernel-params';

const words = (line: string): string[] => line.split(' ');

describe('the guest kernel command line', () => {
  test("with no parameters of the operator's, it is Kata's boot-time defaults, then the console, panic, init and no bounce buffer ours need", () => {
    expect(kernelCommandLine([])).toBe(
      'tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 ' +
        'noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 pci=lastbus=0 quiet console=ttyS0 panic=1 rdinit=/init swiotlb=noforce',
    );
  });

  test("an operator's parameter replaces the default with the same key, wherever it was", () => {
    const line = words(kernelCommandLine(['console=hvc0', 'panic=0', 'pci=noacpi']));
    expect(line.filter((word) => word.startsWith('console='))).toEqual(['console=hvc0']);
    expect(line.filter((word) => word.startsWith('panic='))).toEqual(['panic=0']);
    expect(line.filter((word) => word.startsWith('pci='))).toEqual(['pci=noacpi']);
    expect(line).toContain('tsc=reliable');
  });

  test('a bare flag is its own key: given again it appears once; new flags and keys are added', () => {
    const line = words(kernelCommandLine(['quiet', 'mitigations=off', 'debug']));
    expect(line.filter((word) => word === 'quiet')).toEqual(['quiet']);
    expect(line).toEqual(expect.arrayContaining(['mitigations=off', 'debug']));
  });

  test('keys are compared whole: a parameter whose key merely starts like a default does not replace it', () => {
    const line = words(kernelCommandLine(['i8042.direct.extra=1', 'tsc=unstable']));
    expect(line).toEqual(expect.arrayContaining(['i8042.direct=1', 'i8042.direct.extra=1', 'tsc=unstable']));
    expect(line).not.toContain('tsc=reliable');
  });
});
