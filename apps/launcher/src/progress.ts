import type { StageProgress } from '@finevideo/runtime';

export interface ProgressReporter {
  update(stage: string, progress: StageProgress): void;
  done(): void;
}

export interface ProgressOptions {
  /** Off a terminal, a changed message alone (a worker still waiting) is printed at most this often. */
  messageIntervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * A redrawn bar on a terminal, with the last line a running worker logged (say, "waiting for the
 * model server at ... (HTTP 503, 40 s of 900 s)"); plain lines otherwise, on every change of the
 * counts and for a changed message at most every `messageIntervalMs`; JSON lines with --json.
 */
export function createProgressReporter(mode: 'tty' | 'plain' | 'json', stream: NodeJS.WriteStream = process.stderr, options: ProgressOptions = {}): ProgressReporter {
  const interval = options.messageIntervalMs ?? 10_000;
  const now = options.now ?? Date.now;
  let lastCounts = '';
  let lastMessage: string | undefined;
  let messageAt = -Infinity;
  let drawn = false;
  /** Whether to write: counts changed, or only the message changed and the interval has passed. */
  const due = (counts: string, message: string | undefined) => {
    if (counts !== lastCounts) return true;
    return message !== undefined && message !== lastMessage && now() - messageAt >= interval;
  };
  const written = (counts: string, message: string | undefined) => {
    lastCounts = counts;
    if (message !== lastMessage) messageAt = now();
    lastMessage = message;
  };
  return {
    update(stage, p) {
      const finished = p.succeeded + p.failed;
      const counts = `${stage}: ${finished}/${p.total} chunks (${p.succeeded} ok, ${p.failed} failed, ${p.running} running)`;
      const message = p.message;
      if (mode === 'json') {
        if (!due(counts, message)) return;
        written(counts, message);
        stream.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', message: 'progress', stage, ...p })}\n`);
        return;
      }
      if (mode === 'plain') {
        if (!due(counts, message)) return;
        const countsChanged = counts !== lastCounts;
        const messageChanged = message !== undefined && message !== lastMessage;
        written(counts, message);
        if (countsChanged) stream.write(`${counts}\n`);
        if (messageChanged) stream.write(`${stage}: ${message}\n`);
        return;
      }
      const width = 30;
      const filled = p.total ? Math.round((finished / p.total) * width) : width;
      const bar = `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${counts}`;
      // The message fills what is left of the line; a wrapped line would break the redraw.
      const room = (stream.columns ?? 120) - bar.length - 4;
      const tail = message && room > 10 ? ` | ${message.length > room ? `${message.slice(0, room - 1)}…` : message}` : '';
      stream.write(`${bar}${tail}\x1b[K`);
      written(counts, message);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
