import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, request } from './http';

const run = promisify(execFile);

const REGISTRY_BINARY = '/usr/bin/docker-registry';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const TOOL_TIMEOUT_MS = 20_000;
const POLL_MS = 50;

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Require HTTP Basic authentication with this one account (bcrypt htpasswd). */
  htpasswd?: { user: string; password: string };
  /** Serve HTTPS with a self-signed certificate instead of plain HTTP. */
  selfSignedTls?: boolean;
}

async function htpasswdFile(dir: string, user: string, password: string): Promise<string> {
  const { stdout } = await run('htpasswd', ['-Bbn', user, password], { timeout: TOOL_TIMEOUT_MS });
  const file = join(dir, 'htpasswd');
  await writeFile(file, stdout);
  return file;
}

async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  await run('openssl', [...args, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { timeout: TOOL_TIMEOUT_MS });
  return { cert, key };
}

function configYaml(dir: string, addr: string, auth: string | undefined, tls: { cert: string; key: string } | undefined): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${addr}`,
  ];
  if (tls) lines.push('  tls:', `    certificate: ${tls.cert}`, `    key: ${tls.key}`);
  if (auth) lines.push('auth:', '  htpasswd:', '    realm: test-registry', `    path: ${auth}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs Debian's docker-registry (distribution 2.8) on a free 127.0.0.1 port with its own
 * storage, and waits until its API answers.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'podvisor-registry-'));
  const host = `127.0.0.1:${await freePort()}`;
  const auth = options.htpasswd ? await htpasswdFile(dir, options.htpasswd.user, options.htpasswd.password) : undefined;
  const tls = options.selfSignedTls ? await selfSignedCertificate(dir) : undefined;
  const config = join(dir, 'config.yml');
  await writeFile(config, configYaml(dir, host, auth, tls));

  const child = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // Unreferenced timers: a fallback that is not needed must not keep the test process alive.
      const stopped = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS, false, { ref: false })]);
      if (!stopped) {
        child.kill('SIGKILL');
        await Promise.race([exited, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const url = `${tls ? 'https' : 'http'}://${host}/v2/`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    const answered = await request(url).then(
      ({ status }) => status === 200 || status === 401,
      () => false,
    );
    if (answered) return { host, stop };
    await sleep(POLL_MS);
  }
  await stop();
  throw new Error(`docker-registry on ${host} did not come up within ${START_TIMEOUT_MS} ms:\n${output}`);
}
