import type { Logger } from '@finevideo/core';

/** Logs as JSON lines when FINEVIDEO_LOG_JSON=1, else plain lines; always to stderr. */
export function createLogger(fields: Record<string, unknown> = {}, json = process.env.FINEVIDEO_LOG_JSON === '1'): Logger {
  const write = (level: string, message: string, extra?: Record<string, unknown>) => {
    if (json) {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields, ...extra })}\n`);
    } else {
      const tail = extra && Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
      process.stderr.write(`${new Date().toISOString()} ${level} ${message}${tail}\n`);
    }
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
