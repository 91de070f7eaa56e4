import { InvalidArgumentError } from '../system/errors';

const SHA256 = /^sha256:([0-9a-f]{64})$/;

/** The hex part of a sha256 digest, which names files in the stores; refuses anything else. */
export function digestHex(digest: string): string {
  const match = SHA256.exec(digest);
  if (!match) throw new InvalidArgumentError(`"${digest}" is not a sha256 digest`);
  return match[1];
}

export function isDigest(value: string): boolean {
  return SHA256.test(value);
}
