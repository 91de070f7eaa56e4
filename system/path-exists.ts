import { access } from 'node:fs/promises';

/** Whether anything (even a dangling symlink's target aside) is at `path`. */
export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
