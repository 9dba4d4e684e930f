import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ffprobePath } from './binaries.js';
import { describeExit, lastLines, runProcess } from './process.js';

export interface StreamInfo {
  index: number;
  type: 'video' | 'audio' | 'subtitle' | 'data' | 'other';
  codec: string | undefined;
  width?: number;
  height?: number;
  /** Frames per second from avg_frame_rate (r_frame_rate when the average is unknown). */
  fps?: number;
  durationSec?: number;
}

export interface ProbeResult {
  durationSec: number;
  formatName: string;
  sizeBytes?: number;
  streams: StreamInfo[];
  hasVideo: boolean;
  hasAudio: boolean;
  /** The first video stream, when there is one. */
  video?: StreamInfo;
}

/** ffprobe could not read the file, or it has no usable duration. */
export class ProbeError extends Error {
  override name = 'ProbeError';
}

/** ffprobe ran past its timeout: a slow or overloaded machine as often as a bad file. */
export class ProbeTimeoutError extends ProbeError {
  override name = 'ProbeTimeoutError';
}

const num = z.union([z.string(), z.number()]).optional().transform((v) => {
  if (v === undefined || v === 'N/A') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
});

const ffprobeOutput = z.object({
  format: z.object({ duration: num, format_name: z.string().optional(), size: num }).optional(),
  streams: z.array(z.object({
    index: z.number(),
    codec_type: z.string().optional(),
    codec_name: z.string().optional(),
    width: z.number().optional(),
    height: z.number().optional(),
    avg_frame_rate: z.string().optional(),
    r_frame_rate: z.string().optional(),
    duration: num,
    disposition: z.object({ attached_pic: z.number().optional() }).partial().optional(),
  })).default([]),
  /** Frames decoded when asked (checkVideoIntegrity's tail decode). */
  frames: z.array(z.object({ media_type: z.string().optional(), best_effort_timestamp_time: num, duration_time: num })).default([]),
});

/** "30000/1001" -> 29.97; "0/0" -> undefined. */
export function parseRate(rate: string | undefined): number | undefined {
  if (!rate) return undefined;
  const [n, d] = rate.split('/').map(Number);
  if (!Number.isFinite(n) || !n) return undefined;
  const value = d === undefined ? n! : n! / d;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

const STREAM_TYPES = new Set(['video', 'audio', 'subtitle', 'data']);

/** ffprobe's JSON output for a file, with extra arguments (entries, intervals) before the file. */
async function ffprobeJson(file: string, extra: readonly string[], options: { timeoutMs?: number; signal?: AbortSignal }): Promise<z.infer<typeof ffprobeOutput>> {
  const result = await runProcess(ffprobePath(), [
    '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...extra, '--', file,
  ], { captureStdout: true, timeoutMs: options.timeoutMs ?? 60_000, signal: options.signal });
  if (result.exitCode !== 0) {
    const message = `ffprobe ${describeExit(result)}: ${lastLines(result.stderrTail) || 'no message'}`;
    throw result.timedOut ? new ProbeTimeoutError(message) : new ProbeError(message);
  }
  try {
    return ffprobeOutput.parse(JSON.parse(result.stdout));
  } catch (error) {
    throw new ProbeError(`ffprobe: expected its JSON output, got unreadable output (${(error as Error).message.slice(0, 120)})`);
  }
}

/** The facts of ffprobe's output: duration, format, streams. */
function probeFacts(parsed: z.infer<typeof ffprobeOutput>): ProbeResult {
  // Cover art (an attached picture in an audio file) is a "video" stream to ffprobe but not a video.
  const streams: StreamInfo[] = parsed.streams.filter((s) => !s.disposition?.attached_pic).map((s) => ({
    index: s.index,
    type: (STREAM_TYPES.has(s.codec_type ?? '') ? s.codec_type : 'other') as StreamInfo['type'],
    codec: s.codec_name,
    width: s.width,
    height: s.height,
    fps: s.codec_type === 'video' ? parseRate(s.avg_frame_rate) ?? parseRate(s.r_frame_rate) : undefined,
    durationSec: s.duration,
  }));
  const durationSec = parsed.format?.duration ?? Math.max(0, ...streams.map((s) => s.durationSec ?? 0));
  if (!(durationSec > 0)) throw new ProbeError(`ffprobe: expected a positive duration, got ${parsed.format?.duration ?? 'none'}`);
  const video = streams.find((s) => s.type === 'video');
  return {
    durationSec,
    formatName: parsed.format?.format_name ?? 'unknown',
    sizeBytes: parsed.format?.size,
    streams,
    hasVideo: video !== undefined,
    hasAudio: streams.some((s) => s.type === 'audio'),
    video,
  };
}

/** Reads container and stream facts with ffprobe's JSON output. */
export async function probe(file: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProbeResult> {
  return probeFacts(await ffprobeJson(file, [], options));
}

/** A video file that is not whole: smaller than download recorded, unreadable, or its stream ends before its index says. */
export class VideoCorruptError extends Error {
  override name = 'VideoCorruptError';
}

export interface IntegrityOptions {
  /** The size download recorded; a file of another size is corrupt (a truncated copy, a partial upload). */
  expectedBytes?: number | null;
  /** Seconds the decodable stream may end before the container's duration (default 1). */
  toleranceSec?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Checks that a video file is whole before it is used: its size against what download recorded, its
 * container readable (ffprobe), and its video stream decodable up to the duration its index gives. One
 * ffprobe run does both: asked to start reading past the end, it seeks to the last key frame and decodes
 * from there (a tail decode of a GOP, about 2 s on YouTube). A truncated faststart MP4 keeps its index, so
 * ffprobe alone still reports the full duration; only decoding its end shows the data is missing. Throws
 * VideoCorruptError naming what failed; a ProbeTimeoutError (not the file's fault) is thrown as is;
 * returns the probe's facts of a whole file.
 */
export async function checkVideoIntegrity(file: string, options: IntegrityOptions = {}): Promise<ProbeResult> {
  if (options.expectedBytes !== undefined && options.expectedBytes !== null) {
    const { size } = await stat(file);
    if (size !== options.expectedBytes) throw new VideoCorruptError(`expected ${options.expectedBytes} bytes as downloaded, got ${size}`);
  }
  let parsed: z.infer<typeof ffprobeOutput>;
  let facts: ProbeResult;
  try {
    parsed = await ffprobeJson(file, ['-show_entries', 'frame=media_type,best_effort_timestamp_time,duration_time', '-read_intervals', '99999999%'], options);
    facts = probeFacts(parsed);
  } catch (error) {
    if (error instanceof ProbeError && !(error instanceof ProbeTimeoutError)) throw new VideoCorruptError(`unreadable container: ${error.message}`);
    throw error;
  }
  if (!facts.video) throw new VideoCorruptError('expected a video stream, got none');
  const indexed = facts.video.durationSec ?? facts.durationSec;
  const frameSec = facts.video.fps ? 1 / facts.video.fps : 0;
  let end: number | undefined;
  for (const f of parsed.frames) {
    if (f.media_type !== 'video' || f.best_effort_timestamp_time === undefined) continue;
    end = Math.max(end ?? 0, f.best_effort_timestamp_time + (f.duration_time ?? frameSec));
  }
  const shown = `expected video frames up to ${indexed.toFixed(2)} s (the container's duration)`;
  if (end === undefined) throw new VideoCorruptError(`${shown}, got none decodable from its last key frame`);
  if (end < indexed - (options.toleranceSec ?? 1)) throw new VideoCorruptError(`${shown}, got frames up to ${end.toFixed(2)} s`);
  return facts;
}
