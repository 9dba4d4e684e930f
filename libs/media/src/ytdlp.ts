import { join } from 'node:path';
import { redactUrlCredentials } from '@finevideo/core';
import { ytDlpPath } from './binaries.js';
import { runProcess, type ProcessResult } from './process.js';

/**
 * Why a download failed. Only the transient classes (rate_limited, network) are worth retrying.
 * unavailable: private, removed, deleted, not found; signin: age gate, bot check, 403;
 * too_large: over the size limit; other: anything we do not recognise.
 */
export type DownloadErrorClass = 'unavailable' | 'signin' | 'rate_limited' | 'network' | 'too_large' | 'other';

export const TRANSIENT_ERROR_CLASSES: ReadonlySet<DownloadErrorClass> = new Set(['rate_limited', 'network']);

const RULES: [DownloadErrorClass, RegExp][] = [
  // "Private video. Sign in if you've been granted access" is unavailable, not a sign-in problem.
  ['unavailable', /private video/i],
  ['rate_limited', /HTTP Error 429|too many requests|rate[- ]?limit/i],
  ['signin', /sign in to confirm|confirm you.re not a bot|login required|use --cookies|members[- ]only|join this channel|HTTP Error 403|forbidden/i],
  ['too_large', /larger than max-filesize/i],
  ['unavailable', /video unavailable|is not available|no longer available|has been removed|been terminated|HTTP Error 40[45]|HTTP Error 410|does not exist|not found|copyright|unsupported url|requested format is not available/i],
  ['network', /HTTP Error 5\d\d|timed out|timeout|connection (reset|refused|aborted)|temporary failure|name or service not known|network is unreachable|incompleteread|remote end closed|eof occurred|urlopen error|unable to download (webpage|video data)|content too short|got error|broken pipe/i],
];

/** Classifies a yt-dlp failure from its ERROR lines (or the whole stderr tail). */
export function classifyDownloadError(message: string): DownloadErrorClass {
  for (const [errorClass, pattern] of RULES) if (pattern.test(message)) return errorClass;
  return 'other';
}


/** yt-dlp's "ERROR: ..." lines, else the last line: the message worth keeping. */
export function ytDlpErrorMessage(rawStderr: string): string {
  const stderr = redactUrlCredentials(rawStderr);
  const errors = stderr.split(/\r?\n/).filter((l) => l.startsWith('ERROR:')).map((l) => l.slice(6).trim());
  // Drop yt-dlp's "please report this issue" boilerplate: it is noise in a failed row.
  if (errors.length) return errors.map((e) => e.replace(/;? *please report this issue.*$/i, '')).join(' | ').slice(0, 1000);
  return stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(-2).join(' | ').slice(0, 1000);
}

export interface YtDlpRequest {
  url: string;
  outDir: string;
  /** yt-dlp format selector; the original used "best". */
  format: string;
  /** yt-dlp --max-filesize: bytes, or a number with K/M/G ("500M"). */
  maxFileSize?: number | string;
  /** A proxy without credentials: it goes on the command line. */
  proxy?: string;
  /** A proxy that may carry credentials: handed to yt-dlp in HTTP(S)_PROXY, never on the command line. */
  secretProxy?: string;
  cookiesFile?: string;
  socketTimeoutSec?: number;
  subtitleLanguages?: string[];
}

/** The file names yt-dlp writes in outDir: video.<ext>, video.info.json, video.<lang>.vtt. */
export const YTDLP_BASENAME = 'video';

/**
 * yt-dlp arguments as an array (no shell). Its own retries are off: the caller retries
 * transient failures with backoff, and counts attempts.
 */
export function buildYtDlpArgs(request: YtDlpRequest): string[] {
  const args = [
    '--ignore-config', '--no-playlist', '--no-progress', '--no-overwrites', '--no-mtime',
    '--retries', '0', '--fragment-retries', '0', '--extractor-retries', '0',
    '--socket-timeout', String(request.socketTimeoutSec ?? 30),
    '-f', request.format,
    '-o', join(request.outDir, `${YTDLP_BASENAME}.%(ext)s`),
    '--write-info-json',
    // Uploaded subtitles, and where a language has none, YouTube's automatic captions (yt-dlp prefers the former).
    '--write-subs', '--write-auto-subs', '--sub-langs', (request.subtitleLanguages ?? ['en']).join(','), '--sub-format', 'vtt',
  ];
  if (request.maxFileSize !== undefined) args.push('--max-filesize', String(request.maxFileSize));
  if (request.proxy && !request.secretProxy) args.push('--proxy', request.proxy);
  if (request.cookiesFile) args.push('--cookies', request.cookiesFile);
  args.push('--', request.url);
  return args;
}

export function runYtDlp(request: YtDlpRequest, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProcessResult> {
  // yt-dlp sees a minimal environment (toolEnv); a proxy with credentials is added as its proxy variables.
  const env: Record<string, string> = request.secretProxy ? { HTTP_PROXY: request.secretProxy, HTTPS_PROXY: request.secretProxy, http_proxy: request.secretProxy, https_proxy: request.secretProxy } : {};
  return runProcess(ytDlpPath(), buildYtDlpArgs(request), { ...options, env, captureStdout: true, stderrTailChars: 16_000 });
}
