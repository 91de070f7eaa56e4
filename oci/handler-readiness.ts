import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { HandlerReadiness } from './runtime-handler';

export interface RequiredFile {
  /** What the file is, for the message: "runtime", "conmon", "kernel". */
  role: string;
  path: string;
  executable: boolean;
}

/** Ready when every required file is there (and executable where it must be). */
export async function checkRequiredFiles(handler: string, files: RequiredFile[]): Promise<HandlerReadiness> {
  const missing: string[] = [];
  for (const file of files) {
    try {
      await access(file.path, file.executable ? constants.X_OK : constants.R_OK);
    } catch {
      missing.push(`${file.role} ${file.path} is missing or not ${file.executable ? 'executable' : 'readable'}`);
    }
  }
  return missing.length === 0 ? { ready: true, message: '' } : { ready: false, message: `handler ${handler}: ${missing.join('; ')}` };
}
