// The guest agent: started by the guest's init (through tini), it serves the host's requests
// on the virtio-serial port `podvisor.agent` and runs the pod's containers with runc.
//
//   node main.js [--listen SOCKET] [--runc PATH] [--state DIR] [--cgroup-root DIR]
//
// --listen serves a unix socket instead of the port, to run the agent outside a VM (tests).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Frame } from '../proto/gen/agent';
import { AgentService } from './agent-service';
import { type Channel, findVirtioPort, listenChannel, openVirtioChannel } from './channel';
import { Containers } from './containers';
import { EventLog } from './event-log';
import { GuestVolumes } from './guest-volumes';
import { PodPidNamespace } from './pod-pid-namespace';
import { PortForwards } from './port-forwards';
import { encodeFrame } from './protocol/frame-codec';
import { SandboxShare } from './sandbox-share';

const PORT_NAME = 'podvisor.agent';
const SHARE_TAG = 'podvisor.pod';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      runc: { type: 'string', default: '/podvisor/bin/runc' },
      pause: { type: 'string', default: '/podvisor/bin/pause' },
      state: { type: 'string', default: '/run/podvisor' },
      'cgroup-root': { type: 'string', default: '/sys/fs/cgroup' },
    },
  });
  const state = values.state;
  const paths = { runc: values.runc, runcRoot: join(state, 'runc'), bundles: join(state, 'bundles'), cgroupRoot: values['cgroup-root'], ptyExec: join(__dirname, 'pty-exec') };
  for (const dir of [paths.runcRoot, paths.bundles]) await mkdir(dir, { recursive: true, mode: 0o700 });

  let channel: Channel | undefined;
  const send = (frame: Buffer): void => channel?.send(frame);
  const events = new EventLog(send);
  const containers = new Containers(paths, (event) => events.push(event), () => events.drained());
  const ports = new PortForwards((event) => events.push(event), () => events.drained());
  const pidNamespace = new PodPidNamespace(join(state, 'pod-pid-ns'), values.pause);
  const service = new AgentService(containers, new SandboxShare(SHARE_TAG, join(state, 'shared')), events, ports, new GuestVolumes(join(state, 'volumes')), pidNamespace, {
    shm: join(state, 'shm'),
    files: join(state, 'pod'),
  });
  const onFrame = (frame: Frame): void => {
    if (frame.request) void service.handle(frame.request).then((response) => send(encodeFrame({ response })));
  };
  channel = values.listen !== undefined ? await listenChannel(values.listen, onFrame) : await openVirtioChannel(await findVirtioPort(PORT_NAME), onFrame);
  process.stderr.write(`podvisor-agent: serving ${values.listen ?? PORT_NAME}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`podvisor-agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
