import { spawn } from 'node:child_process';
import { ffmpegPath } from './binaries.js';
import { probe } from './probe.js';
import { toolEnv } from './process.js';

export interface FrameSamplingOptions {
  /** Frames per second wanted; lowered so that at most maxFrames cover the whole video. */
  fps: number;
  /** Upper bound on the frames returned (and so on the memory held). */
  maxFrames: number;
  /** Longest side of a frame in pixels (never upscaled). */
  maxSide: number;
  /** ffmpeg -q:v for MJPEG, 2 (best) .. 31 (smallest); default 5. */
  jpegQuality?: number;
  /** Kills ffmpeg and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Duration of the video stream when already known; otherwise probed with ffprobe. */
  durationSeconds?: number;
}

export interface SampledFrame {
  /** 0-based, in time order. */
  index: number;
  /** Presentation time of the decoded frame the JPEG shows, seconds from the file's start. */
  timeSeconds: number;
  width: number;
  height: number;
  /** One complete JPEG (SOI .. EOI). */
  jpeg: Buffer;
}

/** ffmpeg could not sample the video (missing, corrupt, not a video) or the options were wrong. */
export class FrameSamplingError extends Error {
  override name = 'FrameSamplingError';
}

export const DEFAULT_JPEG_QUALITY = 5;

/** Lines of ffmpeg's log (showinfo excluded) kept for error messages. */
const STDERR_LINES_KEPT = 30;
const KILL_GRACE_MS = 2_000;

/** What the options allow, checked before anything runs. */
export function validateFrameSamplingOptions(options: FrameSamplingOptions): void {
  const fail = (what: string, expected: string, got: unknown) => {
    throw new FrameSamplingError(`frame sampling option ${what}: expected ${expected}, got ${String(got)}`);
  };
  if (!(typeof options.fps === 'number' && Number.isFinite(options.fps) && options.fps > 0)) fail('fps', 'a number > 0', options.fps);
  if (!(Number.isInteger(options.maxFrames) && options.maxFrames >= 1)) fail('maxFrames', 'an integer >= 1', options.maxFrames);
  if (!(Number.isInteger(options.maxSide) && options.maxSide >= 16)) fail('maxSide', 'an integer >= 16', options.maxSide);
  const q = options.jpegQuality;
  if (q !== undefined && !(Number.isInteger(q) && q >= 2 && q <= 31)) fail('jpegQuality', 'an integer from 2 to 31', q);
  const d = options.durationSeconds;
  if (d !== undefined && !(typeof d === 'number' && Number.isFinite(d) && d > 0)) fail('durationSeconds', 'a number > 0', d);
}

/**
 * How many frames a video of this duration gets: fps * duration rounded, at least one, at most
 * maxFrames. Above maxFrames the rate is lowered to maxFrames / duration, so frames stay spread
 * over the whole video instead of stopping early.
 */
export function plannedFrameCount(durationSeconds: number, fps: number, maxFrames: number): number {
  return Math.max(1, Math.min(maxFrames, Math.round(durationSeconds * fps)));
}

const num = (n: number) => Number(n.toPrecision(12)).toString();

/**
 * The filter graph: pick, scale, report.
 *
 * Picking uses `select`, not `fps`: the fps filter rewrites each frame's timestamp to its output
 * slot (k / rate) and shows the last frame before the slot's midpoint, so the real time of the
 * picture is lost (measured: fps=1 shows the frame at 0.4 s as "0 s"). Here the targets are the
 * centres of `count` equal intervals, (k + 0.5) * interval, and a frame is picked when it is the
 * nearest one to the next target (t + half the last frame gap >= target), so its own timestamp
 * survives and showinfo reports it. Only picked frames reach scale, so scaling costs nothing for
 * the frames skipped; the decoder still decodes every frame (needed for exact pictures).
 *
 * Scaling: display aspect (sample aspect ratio applied), longer side <= maxSide, never upscaled,
 * both sides even (what most JPEG consumers and chroma subsampling like), square pixels.
 */
export function frameSamplingFilter(intervalSeconds: number, maxSide: number): string {
  const pick = `select='gte(t+if(isnan(prev_t),0,(t-prev_t)/2),(selected_n+0.5)*${num(intervalSeconds)})'`;
  return `${pick},${fitFilter(maxSide)},showinfo`;
}

/** Scaled to fit maxSide (square pixels, even sides, never upscaled), in MJPEG's pixel format. */
function fitFilter(maxSide: number): string {
  const factor = `min(1,${maxSide}/max(iw*sar,ih))`;
  // The epsilon keeps 287.99999 (floating error of an exact 288) from truncating to 286.
  const even = (side: string) => `max(2,trunc(${side}*${factor}/2+0.00001)*2)`;
  return `scale=w='${even('iw*sar')}':h='${even('ih')}':flags=bicubic,setsar=1,format=yuvj420p`;
}

/**
 * The frames at `times` (seconds), each reached by seeking: ffmpeg decodes from the keyframe before a
 * time, not the whole video, so a few frames of a long video cost a few GOPs of decoding instead of all
 * of it. One ffmpeg, one input per time; JPEGs as sampleFrames makes them. A frame is the first at or
 * after its time, and timeSeconds is the time asked for; a time past the video's end gives no frame.
 */
export async function seekFrames(path: string, times: readonly number[], options: { maxSide: number; jpegQuality?: number; signal?: AbortSignal }): Promise<SampledFrame[]> {
  if (typeof path !== 'string' || path.length === 0) throw new FrameSamplingError(`frame seeking: expected a file path, got ${JSON.stringify(path)}`);
  if (times.length === 0 || times.some((t) => !(Number.isFinite(t) && t >= 0))) {
    throw new FrameSamplingError(`frame seeking: expected times in seconds >= 0, got ${JSON.stringify(times.slice(0, 10))}`);
  }
  if (!(Number.isInteger(options.maxSide) && options.maxSide >= 16)) throw new FrameSamplingError(`frame seeking: maxSide: expected an integer >= 16, got ${String(options.maxSide)}`);
  if (options.signal?.aborted) throw abortReason(options.signal);
  const inputs = times.flatMap((t) => ['-ss', num(t), '-i', `file:${path}`]);
  const fit = fitFilter(options.maxSide);
  const chains = times.map((_, k) => `[${k}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,${fit}[f${k}]`);
  const graph = `${chains.join(';')};${times.map((_, k) => `[f${k}]`).join('')}concat=n=${times.length}:v=1:a=0,settb=1,setpts=N,showinfo[out]`;
  const args = [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...inputs,
    '-filter_complex', graph, '-map', '[out]', '-an', '-sn', '-dn',
    '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-q:v', String(options.jpegQuality ?? DEFAULT_JPEG_QUALITY),
    '-f', 'image2pipe', 'pipe:1',
  ];
  const frames = await runSampler(path, args, times.length, options.maxSide, options.signal);
  return frames.map((frame, index) => ({ ...frame, timeSeconds: times[index]! }));
}

const SHOWINFO_FRAME = /\[Parsed_showinfo_\d+ @ [^\]]+\] n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[0-9.]+(?:e[+-]?\d+)?)/;

/** The frame number and time of a showinfo frame line. */
export function parseShowinfoLine(line: string): { n: number; timeSeconds: number } | undefined {
  const m = SHOWINFO_FRAME.exec(line);
  return m ? { n: Number(m[1]), timeSeconds: Number(m[3]) } : undefined;
}

export interface JpegImage {
  jpeg: Buffer;
  width: number;
  height: number;
}

/**
 * Splits a stream of concatenated JPEGs (ffmpeg's image2pipe) into images by walking the JPEG
 * structure: marker segments by their lengths up to SOS, then the entropy-coded data up to the
 * EOI marker (0xFF bytes in the data are stuffed as FF00, restart markers are FFD0..FFD7), so a
 * stray FFD9 inside a header segment cannot cut an image. Width and height come from the SOF.
 */
export class JpegStreamSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxImageBytes: number) {}

  /** Adds bytes; returns the images completed by them. */
  push(chunk: Buffer): JpegImage[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const images: JpegImage[] = [];
    for (;;) {
      const parsed = parseJpegAt(this.pending);
      if (parsed === 'incomplete') break;
      // A copy: the image must not keep the (larger) received chunk alive.
      images.push({ ...parsed, jpeg: Buffer.from(parsed.jpeg) });
      this.pending = this.pending.subarray(parsed.jpeg.length);
    }
    if (this.pending.length > this.maxImageBytes) {
      throw new FrameSamplingError(`MJPEG stream: expected an image of at most ${this.maxImageBytes} bytes, got ${this.pending.length} bytes without an end marker`);
    }
    return images;
  }

  /** Bytes received but not part of a complete image. */
  get leftoverBytes(): number {
    return this.pending.length;
  }
}

function parseJpegAt(buf: Buffer): JpegImage | 'incomplete' {
  if (buf.length < 2) return 'incomplete';
  if (buf[0] !== 0xff || buf[1] !== 0xd8) {
    throw new FrameSamplingError(`MJPEG stream: expected a JPEG start marker FFD8, got ${buf.subarray(0, 2).toString('hex').toUpperCase()}`);
  }
  let pos = 2;
  let width = 0;
  let height = 0;
  let inScan = false;
  for (;;) {
    if (inScan) {
      const ff = buf.indexOf(0xff, pos);
      if (ff < 0 || ff + 1 >= buf.length) return 'incomplete';
      const next = buf[ff + 1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) { pos = ff + 2; continue; }
      if (next === 0xff) { pos = ff + 1; continue; } // fill byte
      if (next === 0xd9) return { jpeg: buf.subarray(0, ff + 2), width, height };
      inScan = false; // another segment (DHT, SOS of a progressive image...)
      pos = ff;
      continue;
    }
    if (pos + 4 > buf.length) return 'incomplete';
    if (buf[pos] !== 0xff) throw new FrameSamplingError(`MJPEG stream: expected a marker at byte ${pos}, got ${buf[pos]!.toString(16)}`);
    const marker = buf[pos + 1]!;
    if (marker === 0xff) { pos += 1; continue; }
    if (marker === 0xd9) return { jpeg: buf.subarray(0, pos + 2), width, height };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { pos += 2; continue; } // no length
    const length = buf.readUInt16BE(pos + 2);
    if (length < 2) throw new FrameSamplingError(`MJPEG stream: expected a segment length >= 2, got ${length}`);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (pos + 9 > buf.length) return 'incomplete';
      height = buf.readUInt16BE(pos + 5);
      width = buf.readUInt16BE(pos + 7);
    }
    pos += 2 + length;
    if (marker === 0xda) inScan = true;
  }
}

/** Width and height from a JPEG's SOF segment (for checks). */
export function jpegDimensions(jpeg: Buffer): { width: number; height: number } {
  const parsed = parseJpegAt(jpeg);
  if (parsed === 'incomplete') throw new FrameSamplingError(`JPEG: expected a complete image, got ${jpeg.length} bytes without an end marker`);
  return { width: parsed.width, height: parsed.height };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Samples evenly spread frames of a video as JPEGs in memory, in ONE ffmpeg decode:
 * `count = clamp(round(duration * fps), 1, maxFrames)` frames, the one nearest the centre of each
 * of `count` equal intervals of the video (see frameSamplingFilter), scaled to fit maxSide, encoded
 * as MJPEG to a pipe and split in memory (no temporary files). timeSeconds is each decoded frame's
 * own presentation time, as reported by showinfo. Fewer frames come back only when the video has
 * fewer frames than intervals (a picked frame is never repeated).
 */
export async function sampleFrames(path: string, options: FrameSamplingOptions): Promise<SampledFrame[]> {
  validateFrameSamplingOptions(options);
  if (typeof path !== 'string' || path.length === 0) throw new FrameSamplingError(`frame sampling: expected a file path, got ${JSON.stringify(path)}`);
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  let duration = options.durationSeconds;
  if (duration === undefined) {
    let facts;
    try {
      facts = await probe(path, { signal });
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      throw new FrameSamplingError(`sampling frames of ${path}: ${(error as Error).message}`);
    }
    if (!facts.video) throw new FrameSamplingError(`sampling frames of ${path}: expected a video stream, got ${facts.streams.map((s) => s.type).join(', ') || 'no streams'}`);
    duration = facts.video.durationSec && facts.video.durationSec > 0 ? facts.video.durationSec : facts.durationSec;
  }
  const count = plannedFrameCount(duration, options.fps, options.maxFrames);
  const interval = duration / count;
  const args = [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    // file: keeps a path such as "http://..." or "pipe:1" from being read as another protocol.
    '-i', `file:${path}`,
    '-map', '0:v:0', '-an', '-sn', '-dn',
    '-vf', frameSamplingFilter(interval, options.maxSide),
    '-fps_mode', 'passthrough', '-frames:v', String(count),
    '-c:v', 'mjpeg', '-q:v', String(options.jpegQuality ?? DEFAULT_JPEG_QUALITY),
    '-f', 'image2pipe', 'pipe:1',
  ];
  const frames = await runSampler(path, args, count, options.maxSide, signal);
  // A decode that stopped short (truncated download, duration longer than the stream) would give
  // frames of the first part only, which would then be annotated as the whole video.
  const lastTarget = (count - 0.5) * interval;
  const lastTime = frames.at(-1)!.timeSeconds;
  if (frames.length < count && lastTime < lastTarget - Math.max(interval, 5, 0.05 * duration)) {
    throw new FrameSamplingError(`sampling frames of ${path}: the video ends early: expected frames up to ${lastTarget.toFixed(1)} s of ${duration.toFixed(1)} s, got ${frames.length} of ${count}, the last at ${lastTime.toFixed(1)} s (truncated file, or durationSeconds longer than the video)`);
  }
  return frames;
}

function runSampler(path: string, args: string[], count: number, maxSide: number, signal: AbortSignal | undefined): Promise<SampledFrame[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    // A JPEG is far below 3 bytes per pixel; a stream that grows past this is not MJPEG.
    const splitter = new JpegStreamSplitter(maxSide * maxSide * 3 + 1_000_000);
    const images: JpegImage[] = [];
    const times: number[] = [];
    const logTail: string[] = [];
    let partialLine = '';
    let failure: Error | undefined;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const onAbort = () => { aborted = true; stop(); };
    signal?.addEventListener('abort', onAbort, { once: true });
    const onLine = (line: string) => {
      const frame = parseShowinfoLine(line);
      if (frame) {
        times.push(frame.timeSeconds);
        return;
      }
      if (line.includes('Parsed_showinfo_') || !line.trim()) return;
      logTail.push(line.trim());
      if (logTail.length > STDERR_LINES_KEPT) logTail.shift();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return;
      try {
        for (const image of splitter.push(chunk)) images.push(image);
        if (images.length > count) throw new FrameSamplingError(`expected at most ${count} frames, got ${images.length}`);
      } catch (error) {
        failure = error as Error;
        stop();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partialLine + chunk).split(/\r?\n|\r/);
      partialLine = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    const finish = () => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (error) => {
      finish();
      reject(new FrameSamplingError(`sampling frames of ${path}: ffmpeg could not start: ${error.message}`));
    });
    child.once('close', (exitCode, exitSignal) => {
      finish();
      if (partialLine) onLine(partialLine);
      if (aborted && signal) return reject(abortReason(signal));
      const log = logTail.slice(-3).join(' | ') || 'no message';
      const prefix = `sampling frames of ${path}`;
      if (failure) return reject(new FrameSamplingError(`${prefix}: ${failure.message}`));
      if (exitCode !== 0) {
        const got = exitSignal ? `killed by ${exitSignal}` : `exit code ${exitCode}`;
        return reject(new FrameSamplingError(`${prefix}: expected ffmpeg to exit with 0, got ${got}: ${log}`));
      }
      if (splitter.leftoverBytes) return reject(new FrameSamplingError(`${prefix}: expected whole JPEG images, got ${splitter.leftoverBytes} trailing bytes`));
      if (images.length === 0) return reject(new FrameSamplingError(`${prefix}: expected at least one frame, got none: ${log}`));
      if (times.length !== images.length) {
        return reject(new FrameSamplingError(`${prefix}: expected one frame time per image (${images.length}), got ${times.length}: ${log}`));
      }
      resolve(images.map((image, index) => ({ index, timeSeconds: times[index]!, width: image.width, height: image.height, jpeg: image.jpeg })));
    });
  });
}
