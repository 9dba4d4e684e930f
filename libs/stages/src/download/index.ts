import { copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { CompactStringSet, errorMessage, httpUrl, isVideoId, mediaLayout, urlParam, type ItemContext, type MapStage, type Outcome, type PlanContext, type Row } from '@finevideo/core';
import {
  TRANSIENT_ERROR_CLASSES, YTDLP_BASENAME, classifyDownloadError, describeExit, runYtDlp, ytDlpErrorMessage, type DownloadErrorClass,
} from '@finevideo/media';

const ID_PLACEHOLDER = '{id}';

export const downloadParams = z.object({
  /** yt-dlp format selector; "best" as the original (one pre-merged file, no ffmpeg merge). */
  format: z.string().min(1).max(200).default('best'),
  /** yt-dlp --max-filesize: bytes, or a number with K/M/G ("500M"). */
  maxFileSize: z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?[KMGkmg]?$/)]).optional(),
  /** Download starts per minute in one worker (politeness towards the source). */
  downloadsPerMinute: z.number().positive().optional(),
  /** Passed to yt-dlp --proxy; it is recorded in the run, so it must not carry credentials (use proxyEnv). */
  proxy: urlParam('proxy', ['http', 'https', 'socks4', 'socks4a', 'socks5', 'socks5h'], {
    credentialsMessage: 'a proxy URL without user:password (it is recorded in run.json); put a proxy with credentials in an environment variable and name it in proxyEnv',
  }).optional(),
  /** Name of an environment variable (set from a Kubernetes Secret) holding the proxy URL, credentials included; handed to yt-dlp in HTTPS_PROXY, never on its command line. */
  proxyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
  /** A Netscape cookies file mounted into the worker (a secret); copied before use since yt-dlp writes it back. */
  cookiesFile: z.string().min(1).optional(),
  /** Extra attempts for transient failures (rate limited, network). */
  retries: z.number().int().min(0).max(10).default(3),
  /** First backoff delay; doubles each retry. */
  retryBaseDelayMs: z.number().int().min(0).default(5_000),
  socketTimeoutSec: z.number().positive().default(30),
  /** Hard limit for one yt-dlp run. */
  timeoutSec: z.number().positive().default(3_600),
  /** Downloads at once in one worker. */
  concurrency: z.number().int().min(1).max(16).default(2),
  /** Where a video id is fetched from; {id} is replaced by a checked id. */
  sourceUrlTemplate: httpUrl('sourceUrlTemplate').default('https://www.youtube.com/watch?v={id}')
    .refine((t) => t.includes(ID_PLACEHOLDER), { message: `an http(s) URL containing ${ID_PLACEHOLDER}` }),
}).strict();

export type DownloadParams = z.infer<typeof downloadParams>;
export interface DownloadItem { video_id: string }

/**
 * Which English text came with a video: subtitles its uploader gave, YouTube's automatic captions (asked
 * for only where there are no subtitles), or a VTT whose kind the info JSON does not say.
 */
export type SubtitleSource = 'subtitles' | 'automatic-captions' | 'unknown';

export interface DownloadRow extends Row {
  video_id: string;
  bytes: number | null;
  has_subtitles: boolean | null;
  /** Where the stored VTT came from; null when there is none. */
  subtitles_source: SubtitleSource | null;
  duration: number | null;
  skipped: boolean;
  error_class: DownloadErrorClass | null;
  attempts: number;
}

/** The source URL of a video: the id is checked before it reaches the URL (and so the command line). */
export function sourceUrl(template: string, videoId: string): string {
  if (!isVideoId(videoId)) throw new Error(`video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(videoId)}`);
  return template.split(ID_PLACEHOLDER).join(videoId);
}

/** Spaces download starts in this process to at most perMinute a minute. */
function startSpacer() {
  let next = 0;
  return async (perMinute: number | undefined, signal: AbortSignal) => {
    if (!perMinute) return;
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + 60_000 / perMinute;
    if (at > now) await sleep(at - now, undefined, { signal });
  };
}
const awaitDownloadSlot = startSpacer();

function durationOf(infoJson: string | undefined): number | null {
  if (!infoJson) return null;
  try {
    const duration = (JSON.parse(infoJson) as { duration?: unknown }).duration;
    return typeof duration === 'number' && Number.isFinite(duration) ? duration : null;
  } catch {
    return null;
  }
}

/**
 * Where the VTT of a video came from, read from the info JSON yt-dlp wrote: yt-dlp takes a language's
 * uploaded subtitles when there are any (`subtitles`), else its automatic captions (`automatic_captions`).
 */
export function subtitleSource(infoJson: string | undefined, hasVtt: boolean): SubtitleSource | null {
  if (!hasVtt) return null;
  let info: { subtitles?: unknown; automatic_captions?: unknown };
  try {
    info = infoJson ? (JSON.parse(infoJson) as typeof info) : {};
  } catch {
    return 'unknown';
  }
  // The language asked for (--sub-langs en matches the key "en" exactly, as the original asked).
  const hasEnglish = (tracks: unknown) => Boolean(tracks && typeof tracks === 'object' && Object.hasOwn(tracks, 'en'));
  if (hasEnglish(info?.subtitles)) return 'subtitles';
  if (hasEnglish(info?.automatic_captions)) return 'automatic-captions';
  return 'unknown';
}

const emptyRow = (videoId: string): DownloadRow => ({
  video_id: videoId, bytes: null, has_subtitles: null, subtitles_source: null, duration: null, skipped: false, error_class: null, attempts: 0,
});

/** A video already in storage: report it from what is there, download nothing. */
async function alreadyStored(videoId: string, ctx: ItemContext<DownloadParams>): Promise<DownloadRow | undefined> {
  const keys = mediaLayout(videoId);
  if (!(await ctx.store.exists(keys.video))) return undefined;
  const sizes = new Map<string, number>();
  for await (const object of ctx.store.list(keys.prefix)) sizes.set(object.key, object.size);
  const info = sizes.has(keys.info) ? await ctx.store.getText(keys.info) : undefined;
  return {
    ...emptyRow(videoId),
    bytes: sizes.get(keys.video) ?? null,
    has_subtitles: sizes.has(keys.subtitles),
    subtitles_source: subtitleSource(info, sizes.has(keys.subtitles)),
    duration: durationOf(info),
    skipped: true,
  };
}

interface Fetched { video: string; info?: string; subtitles?: string }

async function findOutputs(dir: string): Promise<Fetched | undefined> {
  const names = await readdir(dir);
  const video = names.find((n) => n.startsWith(`${YTDLP_BASENAME}.`) && !/\.(info\.json|vtt|part|ytdl|temp)$/.test(n) && !/\.part-Frag/.test(n));
  if (!video) return undefined;
  const info = names.find((n) => n === `${YTDLP_BASENAME}.info.json`);
  const subtitles = names.find((n) => /\.en(-[A-Za-z]+)?\.vtt$/.test(n));
  return { video: join(dir, video), info: info && join(dir, info), subtitles: subtitles && join(dir, subtitles) };
}

/** The proxy URL held in the variable proxyEnv names; a missing one is an error naming the variable, never its value. */
function proxyFromEnv(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const value = process.env[name];
  if (!value) throw new Error(`download param proxyEnv: expected environment variable ${name} to hold a proxy URL, got it unset or empty`);
  return value;
}

type Attempt = { ok: true; fetched: Fetched } | { ok: false; errorClass: DownloadErrorClass; message: string };

async function attemptDownload(videoId: string, dir: string, cookiesFile: string | undefined, ctx: ItemContext<DownloadParams>): Promise<Attempt> {
  const p = ctx.params;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await awaitDownloadSlot(p.downloadsPerMinute, ctx.signal);
  const result = await runYtDlp({
    url: sourceUrl(p.sourceUrlTemplate, videoId),
    outDir: dir,
    format: p.format,
    maxFileSize: p.maxFileSize,
    proxy: p.proxy,
    secretProxy: proxyFromEnv(p.proxyEnv),
    cookiesFile,
    socketTimeoutSec: p.socketTimeoutSec,
  }, { timeoutMs: p.timeoutSec * 1000, signal: ctx.signal });
  if (result.aborted) throw new Error(`download of ${videoId} cancelled`);
  if (result.timedOut) return { ok: false, errorClass: 'network', message: `yt-dlp ${describeExit(result)}` };
  const fetched = result.exitCode === 0 ? await findOutputs(dir) : undefined;
  if (fetched) return { ok: true, fetched };
  const message = result.exitCode === 0
    ? (/larger than max-filesize/i.test(result.stderrTail + result.stdout) ? `larger than max-filesize ${p.maxFileSize}` : 'yt-dlp succeeded but wrote no video file')
    : ytDlpErrorMessage(result.stderrTail) || `yt-dlp ${describeExit(result)}`;
  return { ok: false, errorClass: result.exitCode === 0 && /max-filesize/.test(message) ? 'too_large' : classifyDownloadError(message), message };
}

export async function downloadVideo(item: DownloadItem, ctx: ItemContext<DownloadParams>): Promise<Outcome<DownloadRow>> {
  const videoId = item.video_id;
  if (!isVideoId(videoId)) {
    return { status: 'error', reason: `invalid video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(videoId)?.slice(0, 40)}` };
  }
  const stored = await alreadyStored(videoId, ctx);
  if (stored) return { status: 'kept', row: stored };
  const keys = mediaLayout(videoId);
  const p = ctx.params;
  const workDir = join(ctx.tmpDir, `download-${videoId}`);
  try {
    await mkdir(workDir, { recursive: true });
    let cookiesFile: string | undefined;
    if (p.cookiesFile) {
      cookiesFile = join(workDir, 'cookies.txt');
      await copyFile(p.cookiesFile, cookiesFile);
    }
    const outDir = join(workDir, 'out');
    let attempt: Attempt | undefined;
    let attempts = 0;
    for (;;) {
      attempts++;
      attempt = await attemptDownload(videoId, outDir, cookiesFile, ctx);
      if (attempt.ok || !TRANSIENT_ERROR_CLASSES.has(attempt.errorClass) || attempts > p.retries) break;
      const delay = p.retryBaseDelayMs * 2 ** (attempts - 1);
      ctx.log.warn(`download ${videoId}: ${attempt.errorClass} (${attempt.message.slice(0, 200)}); retry ${attempts} of ${p.retries} in ${delay} ms`);
      ctx.count('download_retries');
      await sleep(delay, undefined, { signal: ctx.signal });
    }
    if (!attempt.ok) {
      await ctx.store.put(keys.failed, `${attempt.errorClass}: ${attempt.message}\n`, { contentType: 'text/plain' });
      return {
        status: 'error',
        reason: `download ${attempt.errorClass}: ${attempt.message}`,
        row: { ...emptyRow(videoId), error_class: attempt.errorClass, attempts },
      };
    }
    const { fetched } = attempt;
    const bytes = (await stat(fetched.video)).size;
    const info = fetched.info ? await readFile(fetched.info, 'utf8') : undefined;
    if (fetched.info) await ctx.store.upload(keys.info, fetched.info, { contentType: 'application/json' });
    if (fetched.subtitles) await ctx.store.upload(keys.subtitles, fetched.subtitles, { contentType: 'text/vtt' });
    // The video goes last: its presence is what marks the media of this id as complete.
    await ctx.store.upload(keys.video, fetched.video, { contentType: 'video/mp4' });
    if (await ctx.store.exists(keys.failed)) await ctx.store.delete(keys.failed);
    ctx.count('download_bytes', bytes);
    return {
      status: 'kept',
      row: { ...emptyRow(videoId), bytes, has_subtitles: Boolean(fetched.subtitles), subtitles_source: subtitleSource(info, Boolean(fetched.subtitles)), duration: durationOf(info), attempts },
    };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    // Local trouble (disk full, storage down) is not the video's fault: fail the chunk so it is retried.
    throw new Error(`download ${videoId}: ${errorMessage(error)}`, { cause: error });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Video ids from the previous stage's kept rows (video_id column), first occurrence order. */
export async function* videoIdItems(ctx: PlanContext<unknown>): AsyncIterable<DownloadItem> {
  // Ids seen so far, outside the JS heap: 2,000,000 of them in a Set<string> cost about 125 MB.
  const seen = new CompactStringSet();
  for await (const row of ctx.previousRows()) {
    const id = row.video_id;
    if (typeof id !== 'string' || !seen.add(id)) continue;
    yield { video_id: id };
  }
}

export const downloadStage: MapStage<DownloadParams, DownloadItem, DownloadRow> = {
  name: 'download',
  kind: 'map',
  description: 'Fetches each video, its English subtitles (VTT; automatic captions where there are none, the row says which) and info JSON with yt-dlp into media/<id>/; failures become rows with an error class.',
  params: downloadParams,
  image: 'finevideo/stage-download',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi', class: 'network' },
  defaultItemsPerChunk: 50,
  itemConcurrency: (params) => params.concurrency,
  // Only the id is read from the previous table: reading every column cost 26 s instead of 3 s at 2,000,000 rows.
  inputColumns: ['video_id'],
  listItems: videoIdItems,
  itemKey: (item) => String(item.video_id),
  processItem: downloadVideo,
};
