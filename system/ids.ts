import { randomBytes } from 'node:crypto';

// 64 lowercase hex characters, as runc, CRI-O and containerd use, so IDs pass through any
// of their tools unchanged.
const ID = /^[0-9a-f]{64}$/;

export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function isId(value: string): boolean {
  return ID.test(value);
}
