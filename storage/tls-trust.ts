import { readFile } from 'node:fs/promises';
import tls from 'node:tls';

// Debian's bundle holds the CAs the administrator added (update-ca-certificates), which Node's
// built-in list does not know about.
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

let verifying: Promise<tls.SecureContext> | undefined;

async function buildContext(): Promise<tls.SecureContext> {
  let system: string[] = [];
  try {
    system = [await readFile(SYSTEM_CA_BUNDLE, 'utf8')];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return tls.createSecureContext({ ca: [...tls.rootCertificates, ...system] });
}

/**
 * The TLS context that verifies servers against Node's roots plus the system bundle. Built once:
 * parsing a few hundred certificates per connection would dominate small requests.
 */
export function verifyingContext(): Promise<tls.SecureContext> {
  verifying ??= buildContext().catch((error: unknown) => {
    verifying = undefined;
    throw error;
  });
  return verifying;
}
