import { NameRegistrar } from '../state/name-registrar';
import { AlreadyExistsError } from '../system/errors';

describe('NameRegistrar', () => {
  test('a reserved name cannot be taken by another ID, and the error names the holder', () => {
    const names = new NameRegistrar();
    names.reserve('k8s_POD_web_default_uid1_0', 'id-one');
    expect(() => names.reserve('k8s_POD_web_default_uid1_0', 'id-two')).toThrow(AlreadyExistsError);
    expect(() => names.reserve('k8s_POD_web_default_uid1_0', 'id-two')).toThrow('name "k8s_POD_web_default_uid1_0" is reserved by id-one');
  });

  test('reserving again for the same ID is allowed (retries of one create)', () => {
    const names = new NameRegistrar();
    names.reserve('n', 'id-one');
    expect(() => names.reserve('n', 'id-one')).not.toThrow();
    expect(names.holder('n')).toBe('id-one');
  });

  test('a released name can be reserved by anyone; releasing twice is harmless', () => {
    const names = new NameRegistrar();
    names.reserve('n', 'id-one');
    names.release('n');
    names.release('n');
    expect(names.holder('n')).toBeUndefined();
    names.reserve('n', 'id-two');
    expect(names.holder('n')).toBe('id-two');
  });
});
