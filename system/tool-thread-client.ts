import { join } from 'node:path';
import { JobThread } from './job-thread';
import type { ToolJobs } from './tool-thread';

/** The one tool thread (tool-thread.ts) of the daemon, started at its first job. */
export const toolThread = new JobThread<ToolJobs>(join(__dirname, 'tool-thread.js'));
