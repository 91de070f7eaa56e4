import { open, readdir, readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Frame } from '../proto/gen/agent';
import { FrameDecoder } from './protocol/frame-codec';

/** A byte stream to the host, carrying frames both ways. */
export interface Channel {
  /** Sends an encoded frame; what cannot be written now waits its turn. */
  send(frame: Buffer): void;
}

const HOST_AWAY_POLL_MS = 100;
const READ_BYTES = 64 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The virtio-serial port QEMU names `name`, as /sys/class/virtio-ports lists it. */
export async function findVirtioPort(name: string): Promise<string> {
  const dir = '/sys/class/virtio-ports';
  for (const port of await readdir(dir)) {
    if ((await readFile(join(dir, port, 'name'), 'utf8').catch(() => '')).trim() === name) return join('/dev', port);
  }
  throw new Error(`no virtio-serial port named ${name}`);
}

/**
 * The guest side of the virtio-serial port. While no host is connected a read returns nothing
 * at once and a write waits, so the reader polls and starts a fresh decoder each time the host
 * comes back (the daemon restarted: whatever it half-sent is gone).
 */
export async function openVirtioChannel(device: string, onFrame: (frame: Frame) => void): Promise<Channel> {
  const file = await open(device, 'r+');
  let writing = false;
  const queue: Buffer[] = [];
  const drain = async (): Promise<void> => {
    if (writing) return;
    writing = true;
    for (let data = queue[0]; data !== undefined; data = queue[0]) {
      try {
        await file.write(data);
        queue.shift();
      } catch {
        await sleep(HOST_AWAY_POLL_MS);
      }
    }
    writing = false;
  };
  void (async () => {
    const buffer = Buffer.alloc(READ_BYTES);
    let decoder = new FrameDecoder();
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null).catch(() => ({ bytesRead: 0 }));
      if (bytesRead === 0) {
        decoder = new FrameDecoder();
        await sleep(HOST_AWAY_POLL_MS);
        continue;
      }
      for (const frame of decoder.push(Buffer.from(buffer.subarray(0, bytesRead)))) onFrame(frame);
    }
  })();
  return {
    send: (frame) => {
      queue.push(frame);
      void drain();
    },
  };
}

/** The same protocol on a unix socket, one host at a time: for running the agent outside a VM (tests). */
export async function listenChannel(path: string, onFrame: (frame: Frame) => void): Promise<Channel> {
  let client: Socket | undefined;
  const queue: Buffer[] = [];
  const flush = (): void => {
    if (!client) return;
    for (let data = queue.shift(); data !== undefined; data = queue.shift()) client.write(data);
  };
  const server = createServer((socket) => {
    client?.destroy();
    client = socket;
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk).forEach(onFrame));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (client === socket) client = undefined;
    });
    flush();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    send: (frame) => {
      queue.push(frame);
      flush();
    },
  };
}
