import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Kills the process (SIGKILL after SIGTERM grace) when it runs longer. */
  timeoutMs?: number;
  signal?: AbortSignal;
  cwd?: string;
  /** Variables added to the tool's minimal environment (see toolEnv), such as a proxy from proxyEnv. */
  env?: Record<string, string>;
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

/** Variables a media tool may see: what it needs to run, find files, speak the locale and reach the network. */
const TOOL_ENV_NAMES = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TMP', 'TEMP', 'TERM',
  'XDG_CACHE_HOME', 'XDG_RUNTIME_DIR', 'LD_LIBRARY_PATH', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE',
  // The worker's own proxy settings, which yt-dlp and ffmpeg need to reach the network from where it runs.
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy',
  // Windows needs these to start anything.
  'SystemRoot', 'SYSTEMROOT', 'WINDIR', 'PATHEXT', 'COMSPEC',
]);

/**
 * The environment of an external tool (yt-dlp, ffmpeg, ffprobe): only the variables it needs (PATH,
 * HOME, locale, temporary folder, certificates, proxies), never the worker's S3 or LLM keys, which a
 * compromised or buggy tool (or a hostile media file) could otherwise read.
 */
export function toolEnv(extra: Record<string, string> = {}, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && (TOOL_ENV_NAMES.has(name) || name.startsWith('LC_'))) env[name] = value;
  }
  return { ...env, ...extra };
}

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
      env: toolEnv(options.env),
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
