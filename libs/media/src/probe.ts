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
    throw new ProbeError(`ffprobe ${describeExit(result)}: ${lastLines(result.stderrTail) || 'no message'}`);
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
