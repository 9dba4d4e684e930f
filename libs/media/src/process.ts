import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Kills the process (SIGKILL after SIGTERM grace) when it runs longer. */
  timeoutMs?: number;
  signal?: AbortSignal;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep stdout (parsed JSON output); otherwise it is discarded. */
  captureStdout?: boolean;
  /** Characters of stderr kept (the tail). */
  stderrTailChars?: number;
  /** Called for every complete stderr line (progress, detector output). */
  onStderrLine?: (line: string) => void;
}

export interface ProcessResult {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  stdout: string;
  stderrTail: string;
  durationMs: number;
}

const KILL_GRACE_MS = 2_000;

/**
 * Runs a binary with an argument array (never through a shell) and resolves with a
 * structured result whatever the exit; rejects only when the process cannot start.
 */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  const tailChars = options.stderrTailChars ?? 8_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ command, exitCode: null, signal: null, timedOut: false, aborted: true, stdout: '', stderrTail: '', durationMs: 0 });
      return;
    }
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', options.captureStdout ? 'pipe' : 'ignore', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partialLine = '';
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const timer = options.timeoutMs ? setTimeout(() => { timedOut = true; stop(); }, options.timeoutMs) : undefined;
    const onAbort = () => { aborted = true; stop(); };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-tailChars);
      if (options.onStderrLine) {
        const lines = (partialLine + chunk).split(/\r?\n|\r/);
        partialLine = lines.pop() ?? '';
        for (const line of lines) options.onStderrLine(line);
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`${command}: could not start: ${error.message}`));
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (partialLine && options.onStderrLine) options.onStderrLine(partialLine);
      resolve({ command, exitCode, signal, timedOut, aborted, stdout, stderrTail: stderr, durationMs: performance.now() - started });
    });
  });
}

/** "exit code 1", "killed by SIGKILL after timeout"...: for error messages. */
export function describeExit(result: ProcessResult): string {
  if (result.timedOut) return `timed out after ${Math.round(result.durationMs)} ms`;
  if (result.aborted) return 'cancelled';
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.exitCode}`;
}

/** The last non-empty lines of a stderr tail, for short error reasons. */
export function lastLines(text: string, count = 3): string {
  return text.split(/\r?\n|\r/).map((l) => l.trim()).filter(Boolean).slice(-count).join(' | ');
}
