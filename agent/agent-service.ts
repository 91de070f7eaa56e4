import { ErrorCode, type Request, type Response } from '../proto/gen/agent';
import { AgentError, invalid, messageOf } from './agent-error';
import type { Containers } from './containers';
import * as guest from './guest-system';
import type { EventLog } from './event-log';
import type { GuestVolumes } from './guest-volumes';
import type { PodPidNamespace } from './pod-pid-namespace';
import type { PortForwards } from './port-forwards';
import type { SandboxShare } from './sandbox-share';

type Result = Omit<Response, 'id' | 'error'>;

const EMPTY: Result = { empty: {} };

/** Answers the host's requests; every failure becomes an error response, never a crash. */
export class AgentService {
  constructor(
    private readonly containers: Containers,
    private readonly share: SandboxShare,
    private readonly events: EventLog,
    private readonly ports: PortForwards,
    private readonly volumes: GuestVolumes,
    private readonly pidNamespace: PodPidNamespace,
    /** Where the pod's /dev/shm and its files (hosts, resolv.conf, hostname) are made. */
    private readonly podPaths: { shm: string; files: string },
  ) {}

  async handle(request: Request): Promise<Response> {
    try {
      return { id: request.id, error: undefined, ...(await this.dispatch(request)) };
    } catch (error) {
      const code = error instanceof AgentError ? error.code : ErrorCode.ERROR_CODE_INTERNAL;
      return { id: request.id, error: { code, message: messageOf(error) } };
    }
  }

  private async dispatch(request: Request): Promise<Result> {
    const { containers } = this;
    if (request.health) return EMPTY;
    if (request.acknowledgeEvents) {
      this.events.acknowledge(request.acknowledgeEvents.upToSeq);
      return EMPTY;
    }
    if (request.resumeEvents) {
      this.events.resume();
      return EMPTY;
    }
    if (request.guestDetails) return { guestDetails: await guest.guestDetails() };
    if (request.setTime) return guest.setTime(request.setTime.unixMs).then(() => EMPTY);
    if (request.reseedRandom) return guest.reseedRandom(request.reseedRandom.seed).then(() => EMPTY);
    if (request.onlineCpusMemory) {
      const { cpus, cpusPresent, memoryMibPresent } = request.onlineCpusMemory;
      return { online: await guest.onlineCpusMemory(cpus, { cpus: cpusPresent, memoryMiB: memoryMibPresent }) };
    }
    if (request.updateInterface) {
      const { mac, mtu, addresses } = request.updateInterface;
      return guest.updateInterface(mac, mtu, addresses).then(() => EMPTY);
    }
    if (request.updateRoutes) return guest.updateRoutes(request.updateRoutes.mac, request.updateRoutes.routes).then(() => EMPTY);
    if (request.createSandbox) {
      await guest.setHostname(request.createSandbox.hostname);
      await guest.setSysctls(request.createSandbox.sysctls);
      if (request.createSandbox.sharePidNamespace) await this.pidNamespace.create();
      await guest.makePodShm(this.podPaths.shm, request.createSandbox.shmSizeBytes);
      await guest.writePodFiles(this.podPaths.files, request.createSandbox.podFiles);
      await this.share.mount();
      return EMPTY;
    }
    if (request.destroySandbox) {
      this.ports.closeAll();
      await containers.removeAll();
      await this.pidNamespace.destroy();
      await this.share.unmount();
      return EMPTY;
    }
    if (request.createContainer) {
      await this.volumes.make(request.createContainer.volumes);
      await containers.create(request.createContainer);
      return EMPTY;
    }
    if (request.startContainer) return containers.start(request.startContainer.containerId).then(() => EMPTY);
    if (request.signalProcess) {
      const { containerId, execId, signal } = request.signalProcess;
      return containers.signal(containerId, execId, signal).then(() => EMPTY);
    }
    if (request.waitProcess) return { exit: await containers.wait(request.waitProcess.containerId, request.waitProcess.execId) };
    if (request.containerState) return { state: containers.state(request.containerState.containerId) };
    if (request.updateContainer) return containers.update(request.updateContainer.containerId, request.updateContainer.resources).then(() => EMPTY);
    if (request.removeContainer) return containers.remove(request.removeContainer.containerId).then(() => EMPTY);
    if (request.execProcess) return containers.exec(request.execProcess).then(() => EMPTY);
    if (request.writeStdin) {
      const { containerId, execId, data } = request.writeStdin;
      return containers.writeStdin(containerId, execId, data).then(() => EMPTY);
    }
    if (request.closeStdin) {
      containers.closeStdin(request.closeStdin.containerId, request.closeStdin.execId);
      return EMPTY;
    }
    if (request.resizeTty) {
      const { containerId, execId, columns, rows } = request.resizeTty;
      containers.resizeTty(containerId, execId, columns, rows);
      return EMPTY;
    }
    if (request.containerStats) return { stats: await containers.stats(request.containerStats.containerId) };
    return this.dispatchPort(request);
  }

  private async dispatchPort(request: Request): Promise<Result> {
    const { ports } = this;
    if (request.openPort) return ports.open(request.openPort.connectionId, request.openPort.port).then(() => EMPTY);
    if (request.writePort) return ports.write(request.writePort.connectionId, request.writePort.data).then(() => EMPTY);
    if (request.closePortWrite) {
      ports.closeWrite(request.closePortWrite.connectionId);
      return EMPTY;
    }
    if (request.closePort) {
      ports.close(request.closePort.connectionId);
      return EMPTY;
    }
    throw invalid('the request names no call this agent knows');
  }
}
