import { spawn } from 'node:child_process';
import { ffmpegPath } from './binaries.js';
import { FrameSamplingError, JpegStreamSplitter, sampleFrames, seekFrames, type JpegImage, type SampledFrame } from './frames.js';

/** From this length on, posters come from seeking to each frame rather than from one pass over the video. */
export const SEEK_FROM_SECONDS = 60;
import { toolEnv } from './process.js';

export interface PosterOptions {
  /** Longest side of the poster in pixels (never upscaled). */
  posterSide: number;
  /** Frames in the hover-scrub strip (fewer for a video with fewer frames). */
  stripFrames: number;
  /** Longest side of one strip frame in pixels. */
  stripFrameSide: number;
  /** Duration of the video stream when already known; otherwise probed. */
  durationSeconds?: number;
  signal?: AbortSignal;
}

export const DEFAULT_POSTER_OPTIONS: Omit<PosterOptions, 'durationSeconds' | 'signal'> = { posterSide: 320, stripFrames: 8, stripFrameSide: 160 };

export interface PosterImages {
  /** One frame, about a third into the video (past intros and black openings). */
  poster: JpegImage;
  /** The frames side by side, in time order: frame k of n is the k-th 1/n of the strip's width. */
  strip: JpegImage & { frames: number };
}

/** Sides scaled so the longer is at most maxSide, both even (as frameSamplingFilter scales). */
export function fitEven(width: number, height: number, maxSide: number): { width: number; height: number } {
  const factor = Math.min(1, maxSide / Math.max(width, height));
  const even = (side: number) => Math.max(2, Math.trunc((side * factor) / 2 + 0.00001) * 2);
  return { width: even(width), height: even(height) };
}

/**
 * The times a strip's frames are seeked to (the centre of each of `frames` equal parts), or undefined when
 * one pass over the video costs less: a short video (each seek decodes from the keyframe before it), or one
 * whose duration is not known. A long video then costs a few GOPs of decoding instead of a second decode.
 */
export function posterSeekTimes(durationSeconds: number | undefined, frames: number): number[] | undefined {
  if (durationSeconds === undefined || !(durationSeconds >= SEEK_FROM_SECONDS)) return undefined;
  return Array.from({ length: frames }, (_, k) => ((k + 0.5) * durationSeconds) / frames);
}

/**
 * A poster and a hover-scrub strip of a video: `stripFrames` frames spread over the video (one seek each
 * for a video of SEEK_FROM_SECONDS or more whose duration is given, else one pass: sampleFrames), the one
 * at a third as the poster, all of them shrunk and tiled in a row by a second ffmpeg that reads only those
 * small JPEGs from a pipe.
 */
export async function makePosterAndStrip(path: string, options: PosterOptions): Promise<PosterImages> {
  if (!(Number.isInteger(options.stripFrames) && options.stripFrames >= 1)) {
    throw new FrameSamplingError(`poster option stripFrames: expected an integer >= 1, got ${String(options.stripFrames)}`);
  }
  if (!(Number.isInteger(options.stripFrameSide) && options.stripFrameSide >= 16)) {
    throw new FrameSamplingError(`poster option stripFrameSide: expected an integer >= 16, got ${String(options.stripFrameSide)}`);
  }
  const seekTimes = posterSeekTimes(options.durationSeconds, options.stripFrames);
  const frames = seekTimes
    ? await seekFrames(path, seekTimes, { maxSide: options.posterSide, signal: options.signal })
    // A high rate: the frame count is stripFrames unless the video is shorter than stripFrames / 10 s.
    : await sampleFrames(path, { fps: 10, maxFrames: options.stripFrames, maxSide: options.posterSide, durationSeconds: options.durationSeconds, signal: options.signal });
  const chosen = frames[Math.floor(frames.length / 3)]!;
  const strip = await tileFrames(path, frames, options.stripFrameSide, options.signal);
  return { poster: { jpeg: chosen.jpeg, width: chosen.width, height: chosen.height }, strip: { ...strip, frames: frames.length } };
}

/** The frames shrunk to frameSide and tiled left to right into one JPEG. */
function tileFrames(path: string, frames: readonly SampledFrame[], frameSide: number, signal: AbortSignal | undefined): Promise<JpegImage> {
  const size = fitEven(frames[0]!.width, frames[0]!.height, frameSide);
  const args = [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0',
    '-vf', `scale=${size.width}:${size.height}:flags=bicubic,setsar=1,tile=${frames.length}x1,format=yuvj420p`,
    '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2pipe', 'pipe:1',
  ];
  const prefix = `tiling the strip of ${path}`;
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { env: toolEnv(), stdio: ['pipe', 'pipe', 'pipe'], signal });
    const splitter = new JpegStreamSplitter(size.width * frames.length * size.height * 3 + 1_000_000);
    const images: JpegImage[] = [];
    let log = '';
    let failure: Error | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        images.push(...splitter.push(chunk));
      } catch (e) {
        failure ??= e as Error;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { log = (log + chunk).slice(-2_000); });
    // ffmpeg may exit before reading everything (EPIPE): its exit code tells what happened.
    child.stdin.on('error', () => undefined);
    child.once('error', (e) => reject(signal?.aborted ? e : new FrameSamplingError(`${prefix}: ffmpeg could not run: ${e.message}`)));
    child.once('close', (code) => {
      if (signal?.aborted) return reject(signal.reason ?? new DOMException('This operation was aborted', 'AbortError'));
      if (failure) return reject(new FrameSamplingError(`${prefix}: ${failure.message}`));
      if (code !== 0) return reject(new FrameSamplingError(`${prefix}: expected ffmpeg to exit with 0, got exit code ${code}: ${log.trim().split('\n').slice(-2).join(' | ')}`));
      if (images.length !== 1) return reject(new FrameSamplingError(`${prefix}: expected one JPEG, got ${images.length}`));
      resolve(images[0]!);
    });
    for (const f of frames) child.stdin.write(f.jpeg);
    child.stdin.end();
  });
}
