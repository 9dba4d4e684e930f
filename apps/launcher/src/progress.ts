import type { StageProgress } from '@finevideo/runtime';

export interface ProgressReporter {
  update(stage: string, progress: StageProgress): void;
  done(): void;
}

/** A redrawn bar on a terminal; plain lines (only on change) otherwise; JSON lines with --json. */
export function createProgressReporter(mode: 'tty' | 'plain' | 'json', stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  let lastLine = '';
  let drawn = false;
  return {
    update(stage, p) {
      const finished = p.succeeded + p.failed;
      if (mode === 'json') {
        const line = JSON.stringify({ time: new Date().toISOString(), level: 'info', message: 'progress', stage, ...p });
        if (line !== lastLine) stream.write(`${line}\n`);
        lastLine = line;
        return;
      }
      const text = `${stage}: ${finished}/${p.total} chunks (${p.succeeded} ok, ${p.failed} failed, ${p.running} running)`;
      if (mode === 'plain') {
        if (text !== lastLine) stream.write(`${text}\n`);
        lastLine = text;
        return;
      }
      const width = 30;
      const filled = p.total ? Math.round((finished / p.total) * width) : width;
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
