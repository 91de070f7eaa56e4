/**
 * The errno-style code (`ENOENT`, `EBUSY`) of a failed system call, if `error` carries one.
 * Duck-typed rather than `instanceof Error`: errors made by Node's core come from another realm
 * when code runs in a VM context (as under jest), and would fail that check.
 */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}
