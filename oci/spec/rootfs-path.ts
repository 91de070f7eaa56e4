import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../../system/error-code';
import { InvalidArgumentError } from '../../system/errors';

// The kernel's own limit on symlinks followed while resolving one path.
const MAX_SYMLINKS = 40;

function parts(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

/**
 * `path` inside `root` with every symlink resolved as if `root` were `/`: absolute targets and
 * `..` stop at `root`, so an image cannot point us at the host's files. Missing components are
 * kept as written; reading the result then fails with ENOENT.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = parts(path);
  const resolved: string[] = [];
  let symlinks = 0;
  for (let part = pending.shift(); part !== undefined; part = pending.shift()) {
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    const isLink = await lstat(candidate).then(
      (stats) => stats.isSymbolicLink(),
      (error: unknown) => {
        if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return false;
        throw error;
      },
    );
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    symlinks += 1;
    if (symlinks > MAX_SYMLINKS) throw new InvalidArgumentError(`too many symlinks resolving ${path} in the image`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...parts(target));
  }
  return join(root, ...resolved);
}
