import { IdIndex } from '../state/id-index';
import { isId, newId } from '../system/ids';
import { InvalidArgumentError, NotFoundError } from '../system/errors';

describe('IDs', () => {
  test('are 64 lowercase hex characters and distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, newId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isId(id)).toBe(true);
    expect(isId('A'.repeat(64))).toBe(false);
    expect(isId('a'.repeat(63))).toBe(false);
  });
});

describe('IdIndex', () => {
  const a = 'abc1' + '0'.repeat(60);
  const b = 'abc2' + '0'.repeat(60);
  const c = 'def0' + '0'.repeat(60);

  function index(): IdIndex {
    const idx = new IdIndex('container');
    for (const id of [a, b, c]) idx.add(id);
    return idx;
  }

  test('finds an ID by its full value or any unique prefix', () => {
    const idx = index();
    expect(idx.resolve(a)).toBe(a);
    expect(idx.resolve('abc1')).toBe(a);
    expect(idx.resolve('d')).toBe(c);
  });

  test('an ambiguous prefix is InvalidArgument naming the candidates', () => {
    expect(() => index().resolve('abc')).toThrow(InvalidArgumentError);
    expect(() => index().resolve('abc')).toThrow(/ambiguous.*abc100000000.*abc200000000/);
  });

  test('an unknown prefix is NotFound naming it; an empty one is InvalidArgument', () => {
    expect(() => index().resolve('ff')).toThrow(NotFoundError);
    expect(() => index().resolve('ff')).toThrow('container "ff" not found');
    expect(() => index().resolve('')).toThrow(InvalidArgumentError);
  });

  test('a deleted ID is no longer found and frees its prefix', () => {
    const idx = index();
    idx.delete(a);
    expect(() => idx.resolve(a)).toThrow(NotFoundError);
    expect(idx.resolve('abc')).toBe(b);
    expect(idx.size).toBe(2);
  });

  test('refuses to hold something that is not an ID', () => {
    expect(() => new IdIndex('pod sandbox').add('../etc')).toThrow(InvalidArgumentError);
  });
});
