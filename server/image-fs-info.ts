import type { FilesystemUsage, ImageFsInfoRequest, ImageFsInfoResponse } from '../proto/gen/cri-api-v1';
import type { ServerContext } from './context';

export async function imageFsInfo(ctx: ServerContext, _request: ImageFsInfoRequest): Promise<ImageFsInfoResponse> {
  const usage = await ctx.images.fsUsage();
  const filesystem: FilesystemUsage = {
    timestamp: BigInt(Date.now()) * 1_000_000n,
    fsId: { mountpoint: usage.mountpoint },
    usedBytes: { value: BigInt(usage.bytes) },
    inodesUsed: { value: BigInt(usage.inodes) },
  };
  // Container writable layers live on the same filesystem until they get their own store.
  return { imageFilesystems: [filesystem], containerFilesystems: [filesystem] };
}
