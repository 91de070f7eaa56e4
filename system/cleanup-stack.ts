import { errorMessage } from './errors';
import type { Logger } from './logger';

/**
 * Undo steps for a multi-step create: each step that succeeds pushes how to undo itself, and on
 * failure they run newest first, so a failed create leaves nothing behind.
 */
export class CleanupStack {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly context: Record<string, string>,
  ) {}

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /**
   * Pushes `undo` for what `work` made once it succeeds, so steps running side by side each
   * record their own undo; one started after another (chained on it) is undone before it.
   */
  async track<T>(what: string, work: Promise<T>, undo: (made: T) => Promise<void>): Promise<T> {
    const made = await work;
    this.push(what, () => undo(made));
    return made;
  }

  /** Runs every undo step; one failing is logged and does not stop the others. Resolves to whether all succeeded. */
  async unwind(): Promise<boolean> {
    let undone = true;
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
      } catch (error) {
        undone = false;
        this.logger.error('cleanup after a failed create failed', { ...this.context, step: step.what, error: errorMessage(error) });
      }
    }
    this.steps.length = 0;
    return undone;
  }
}
