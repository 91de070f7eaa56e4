import { ContainerStatus, ImageServiceService, PodSandboxStatus, RuntimeServiceService } from '../proto/gen/cri-api-v1';

describe('CRI types', () => {
  test('int64 nanosecond timestamps survive encode and decode exactly', () => {
    // Past 2^53: a JS number would round these.
    const createdAt = 1795000000123456789n;
    const decoded = PodSandboxStatus.decode(PodSandboxStatus.encode(PodSandboxStatus.fromPartial({ id: 'x', createdAt })).finish());
    expect(decoded.createdAt).toBe(createdAt);
    const status = ContainerStatus.fromPartial({ startedAt: 9007199254740993n, finishedAt: 9223372036854775807n, exitCode: -1 });
    const back = ContainerStatus.decode(ContainerStatus.encode(status).finish());
    expect([back.startedAt, back.finishedAt, back.exitCode]).toEqual([9007199254740993n, 9223372036854775807n, -1]);
  });

  test('both services carry every CRI v1 method under package runtime.v1', () => {
    const runtime = Object.values(RuntimeServiceService).map((method) => method.path);
    const image = Object.values(ImageServiceService).map((method) => method.path);
    expect(runtime).toHaveLength(35);
    expect(image).toHaveLength(6);
    expect(runtime).toContain('/runtime.v1.RuntimeService/UpdatePodSandboxResources');
    expect(runtime).toContain('/runtime.v1.RuntimeService/GetContainerEvents');
    expect(image).toContain('/runtime.v1.ImageService/ImageFsInfo');
  });
});
