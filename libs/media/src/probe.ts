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

/** Reads container and stream facts with ffprobe's JSON output. */
export async function probe(file: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProbeResult> {
  const result = await runProcess(ffprobePath(), [
    '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '--', file,
  ], { captureStdout: true, timeoutMs: options.timeoutMs ?? 60_000, signal: options.signal });
  if (result.exitCode !== 0) {
    const message = `ffprobe ${describeExit(result)}: ${lastLines(result.stderrTail) || 'no message'}`;
    throw result.timedOut ? new ProbeTimeoutError(message) : new ProbeError(message);
  }
  let parsed: z.infer<typeof ffprobeOutput>;
  try {
    parsed = ffprobeOutput.parse(JSON.parse(result.stdout));
  } catch (error) {
    throw new ProbeError(`ffprobe: expected its JSON output, got unreadable output (${(error as Error).message.slice(0, 120)})`);
  }
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

/** Seconds decoded at the end of the video stream: a keyframe interval (about 2 s on YouTube) and a margin. */
const TAIL_SEC = 4;

/** The end time (seconds) of the last video frame ffprobe can decode in the file's last TAIL_SEC seconds; undefined when none decodes. */
async function lastDecodedVideoEnd(file: string, from: number, fps: number | undefined, options: IntegrityOptions): Promise<number | undefined> {
  const result = await runProcess(ffprobePath(), [
    '-v', 'error', '-select_streams', 'v:0', '-read_intervals', `${from.toFixed(3)}%`,
    '-show_entries', 'frame=best_effort_timestamp_time,duration_time', '-of', 'csv=p=0', '--', file,
  ], { captureStdout: true, timeoutMs: options.timeoutMs ?? 60_000, signal: options.signal });
  if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
  const message = `the tail decode failed: ffprobe ${describeExit(result)}: ${lastLines(result.stderrTail) || 'no message'}`;
  // A timeout says nothing about the file (the machine may be overloaded): it fails the chunk, which is retried.
  if (result.timedOut) throw new ProbeTimeoutError(message);
  if (result.exitCode !== 0) throw new VideoCorruptError(message);
  let end: number | undefined;
  for (const line of result.stdout.split('\n')) {
    const [time, duration] = line.split(',').map(Number);
    if (time === undefined || !Number.isFinite(time)) continue;
    const frameEnd = time + (duration !== undefined && Number.isFinite(duration) ? duration : fps ? 1 / fps : 0);
    end = Math.max(end ?? frameEnd, frameEnd);
  }
  return end;
}

/**
 * Checks that a video file is whole before it is used: its size against what download recorded, its
 * container readable (ffprobe), and its video stream decodable up to the duration its index gives (a tail
 * decode of the last seconds). A truncated faststart MP4 keeps its index, so ffprobe alone still reports
 * the full duration; only decoding its end shows the data is missing. Throws VideoCorruptError naming
 * what failed; a ProbeTimeoutError (not the file's fault) is thrown as is; returns the probe's facts of a
 * whole file.
 */
export async function checkVideoIntegrity(file: string, options: IntegrityOptions = {}): Promise<ProbeResult> {
  if (options.expectedBytes !== undefined && options.expectedBytes !== null) {
    const { size } = await stat(file);
    if (size !== options.expectedBytes) throw new VideoCorruptError(`expected ${options.expectedBytes} bytes as downloaded, got ${size}`);
  }
  let facts: ProbeResult;
  try {
    facts = await probe(file, options);
  } catch (error) {
    if (error instanceof ProbeError && !(error instanceof ProbeTimeoutError)) throw new VideoCorruptError(`unreadable container: ${error.message}`);
    throw error;
  }
  if (!facts.video) throw new VideoCorruptError('expected a video stream, got none');
  const indexed = facts.video.durationSec ?? facts.durationSec;
  const tolerance = options.toleranceSec ?? 1;
  const end = await lastDecodedVideoEnd(file, Math.max(0, indexed - TAIL_SEC), facts.video.fps, options);
  if (end === undefined) throw new VideoCorruptError(`expected video frames up to ${indexed.toFixed(2)} s (the container's duration), got none in its last ${TAIL_SEC} s`);
  if (end < indexed - tolerance) throw new VideoCorruptError(`expected video frames up to ${indexed.toFixed(2)} s (the container's duration), got frames up to ${end.toFixed(2)} s`);
  return facts;
}
