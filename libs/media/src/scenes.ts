/**
 * Scene detection: PySceneDetect 0.6's ContentDetector (as FineVideo ran it: VideoManager +
 * SceneManager with default downscaling, ContentDetector(threshold=15)), in TypeScript over frames
 * ffmpeg decodes, one decode per video, one frame in memory at a time.
 *
 * Parity with PySceneDetect 0.6.4 + OpenCV 4.x comes from three exact steps:
 * 1. ffmpeg decodes to BGR24 with the same swscale conversion cv2.VideoCapture uses (BT.601
 *    coefficients whatever the stream's tag, limited range unless the decoder outputs a yuvj format,
 *    bicubic flags, every decoded frame passed through, first video stream);
 * 2. the frame is shrunk as SceneManager does (width // 256, cv2.resize INTER_LINEAR), see scenes-kernel;
 * 3. the score and the cut logic of 0.6.4's ContentDetector and its FlashFilter (merge mode).
 */
import { resolve } from 'node:path';
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { ffmpegPath, ffprobePath } from './binaries.js';
import { lastLines, runProcess, describeExit, toolEnv } from './process.js';
import { parseRate } from './probe.js';
import { DecodeError } from './freeze.js';
import { LinearDownscaler, contentScore, detectorSize, hsvAndDifferences } from './scenes-kernel.js';

export * from './scenes-kernel.js';

export interface ContentDetectorOptions {
  /** ContentDetector threshold (FineVideo used 15; PySceneDetect's own default is 27). */
  threshold?: number;
  /** Minimum scene length in frames (PySceneDetect's default 15). */
  minSceneLen?: number;
}

export interface DetectedScene {
  /** First frame of the scene (0-based). */
  startFrame: number;
  /** One past the last frame of the scene (PySceneDetect's end timecode, exclusive). */
  endFrame: number;
}

export interface SceneDetection {
  /** The stream's average frame rate (frames per second). */
  fps: number;
  /** Frames decoded. */
  frameCount: number;
  /** Frames where a new scene starts (a cut), ascending, excluding frame 0. */
  cuts: number[];
  /**
   * Scenes covering [0, frameCount) in order, as PySceneDetect's scene list. One difference: with no
   * cut, PySceneDetect 0.6's get_scene_list() returns [] (start_in_scene=False); this returns the one
   * scene [0, frameCount) (empty only when no frame was decoded).
   */
  scenes: DetectedScene[];
  /** The size frames were compared at (after SceneManager's default downscale); optional so fakes need not set it. */
  detectorWidth?: number;
  detectorHeight?: number;
}

export interface DetectScenesOptions extends ContentDetectorOptions {
  signal?: AbortSignal;
  /** Called with every frame's score (frame number, content_val): PySceneDetect's stats file column. */
  onFrameScore?: (frame: number, score: number) => void;
}

/** FineVideo's settings: ContentDetector(threshold=15), default min_scene_len. */
export const FINEVIDEO_CONTENT_DETECTOR = { threshold: 15, minSceneLen: 15 } as const;

/**
 * PySceneDetect 0.6.4's FlashFilter in MERGE mode (ContentDetector's default): a cut closer than
 * `length` frames to the previous one is merged into a run that is emitted (at its last frame above
 * the threshold) once the run has lasted `length` frames and a frame falls below the threshold.
 */
export class FlashFilter {
  private lastAbove: number | undefined;
  private mergeEnabled = false;
  private mergeTriggered = false;
  private mergeStart = 0;

  constructor(private readonly length: number) {}

  /** The cuts this frame completes (0 or 1). */
  filter(frame: number, aboveThreshold: boolean): number | undefined {
    if (!(this.length > 0)) return aboveThreshold ? frame : undefined;
    if (this.lastAbove === undefined) this.lastAbove = frame;
    const minLengthMet = frame - this.lastAbove >= this.length;
    if (aboveThreshold) this.lastAbove = frame;
    if (this.mergeTriggered) {
      const mergedFrames = this.lastAbove - this.mergeStart;
      if (minLengthMet && !aboveThreshold && mergedFrames >= this.length) {
        this.mergeTriggered = false;
        return this.lastAbove;
      }
      return undefined;
    }
    if (!aboveThreshold) return undefined;
    if (minLengthMet) {
      this.mergeEnabled = true;
      return frame;
    }
    if (this.mergeEnabled) {
      this.mergeTriggered = true;
      this.mergeStart = frame;
    }
    return undefined;
  }
}

/**
 * ContentDetector over frames already at the detector's size (packed BGR). Keeps two HSV frames
 * (the current and the previous) and swaps them; nothing is allocated per frame.
 */
export class ContentDetector {
  readonly threshold: number;
  readonly minSceneLen: number;
  private readonly pixels: number;
  private current: [Uint8Array, Uint8Array, Uint8Array];
  private previous: [Uint8Array, Uint8Array, Uint8Array];
  private hasPrevious = false;
  private readonly flash: FlashFilter;
  private readonly sums = new Float64Array(3);
  readonly cuts: number[] = [];

  constructor(readonly width: number, readonly height: number, options: ContentDetectorOptions = {}) {
    this.threshold = options.threshold ?? FINEVIDEO_CONTENT_DETECTOR.threshold;
    this.minSceneLen = options.minSceneLen ?? FINEVIDEO_CONTENT_DETECTOR.minSceneLen;
    if (!Number.isFinite(this.threshold) || this.threshold < 0) throw new RangeError(`threshold: expected a number >= 0, got ${this.threshold}`);
    if (!Number.isInteger(this.minSceneLen) || this.minSceneLen < 0) throw new RangeError(`minSceneLen: expected an integer >= 0, got ${this.minSceneLen}`);
    this.pixels = width * height;
    const plane = () => new Uint8Array(this.pixels);
    this.current = [plane(), plane(), plane()];
    this.previous = [plane(), plane(), plane()];
    this.flash = new FlashFilter(this.minSceneLen);
  }

  /** Scores frame `frame` (0.0 for the first) and records a cut when the flash filter emits one. */
  processFrame(frame: number, bgr: Uint8Array): number {
    const [hue, saturation, value] = this.current;
    const [previousHue, previousSaturation, previousValue] = this.previous;
    const { sums } = this;
    hsvAndDifferences(bgr, this.pixels, hue, saturation, value, previousHue, previousSaturation, previousValue, sums);
    const score = this.hasPrevious ? contentScore(sums[0]!, sums[1]!, sums[2]!, this.pixels) : 0;
    // PySceneDetect returns 0.0 for the first frame but still runs it through the filter.
    const swap = this.previous;
    this.previous = this.current;
    this.current = swap;
    this.hasPrevious = true;
    const cut = this.flash.filter(frame, score >= this.threshold);
    if (cut !== undefined) this.cuts.push(cut);
    return score;
  }
}

/** SceneManager.get_scene_list's contiguous scenes from cuts, covering [0, frameCount). */
export function scenesFromCuts(cuts: readonly number[], frameCount: number): DetectedScene[] {
  if (frameCount <= 0) return [];
  const scenes: DetectedScene[] = [];
  let start = 0;
  for (const cut of cuts) {
    scenes.push({ startFrame: start, endFrame: cut });
    start = cut;
  }
  scenes.push({ startFrame: start, endFrame: frameCount });
  return scenes;
}

interface VideoStreamFacts {
  /** Size of the frames as cv2 returns them (after the display rotation). */
  width: number;
  height: number;
  pixelFormat: string;
  fps: number;
  /** The stream's display rotation in degrees, normalised to 0, 90, 180 or 270. */
  rotation: number;
}

async function probeVideoStream(file: string, signal?: AbortSignal): Promise<VideoStreamFacts> {
  const result = await runProcess(ffprobePath(), [
    '-v', 'error', '-select_streams', 'v:0', '-print_format', 'json',
    '-show_entries', 'stream=width,height,pix_fmt,avg_frame_rate,r_frame_rate:stream_side_data=rotation', '--', file,
  ], { captureStdout: true, timeoutMs: 60_000, signal });
  if (result.aborted) throw abortError(file);
  if (result.exitCode !== 0) throw new DecodeError(`scene detection of ${file}: ffprobe ${describeExit(result)}: ${lastLines(result.stderrTail) || 'no message'}`);
  let stream: {
    width?: unknown; height?: unknown; pix_fmt?: unknown; avg_frame_rate?: unknown; r_frame_rate?: unknown;
    side_data_list?: { rotation?: unknown }[];
  } | undefined;
  try {
    stream = (JSON.parse(result.stdout) as { streams?: typeof stream[] }).streams?.[0];
  } catch {
    throw new DecodeError(`scene detection of ${file}: expected ffprobe's JSON, got unreadable output`);
  }
  const width = Number(stream?.width);
  const height = Number(stream?.height);
  if (!stream || !(width > 0) || !(height > 0)) throw new DecodeError(`scene detection of ${file}: expected a video stream with a size, got ${stream ? `${String(stream.width)}x${String(stream.height)}` : 'no video stream'}`);
  const fps = parseRate(typeof stream.avg_frame_rate === 'string' ? stream.avg_frame_rate : undefined)
    ?? parseRate(typeof stream.r_frame_rate === 'string' ? stream.r_frame_rate : undefined) ?? 0;
  const rotationTag = Number(stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? 0);
  const rotation = Number.isFinite(rotationTag) ? (((Math.round(rotationTag / 90) * 90) % 360) + 360) % 360 : 0;
  const turned = rotation === 90 || rotation === 270;
  return {
    width: turned ? height : width, height: turned ? width : height,
    pixelFormat: typeof stream.pix_fmt === 'string' ? stream.pix_fmt : 'unknown', fps, rotation,
  };
}

function abortError(file: string): Error {
  const error = new Error(`scene detection of ${file}: cancelled`);
  error.name = 'AbortError';
  return error;
}

/**
 * The conversion cv2.VideoCapture (FFmpeg backend, OpenCV 4.6) applies: sws_scale to BGR24 with
 * SWS_BICUBIC and swscale's defaults, i.e. BT.601 coefficients and limited range, full range only for
 * yuvj formats (ffmpeg's scale filter would otherwise follow the stream's colour tags, so both are
 * pinned); then its auto-rotation of the BGR frame, which turns a rotation tag of 90 clockwise and
 * 270 counter-clockwise (the reverse of ffmpeg's own autorotate, hence -noautorotate).
 */
export function opencvConversionFilter(pixelFormat: string, rotation = 0): string {
  const range = pixelFormat.startsWith('yuvj') ? 'pc' : 'tv';
  const turn = { 90: ',transpose=clock', 180: ',hflip,vflip', 270: ',transpose=cclock' }[rotation] ?? '';
  return `scale=in_color_matrix=bt601:out_color_matrix=bt601:in_range=${range}:flags=bicubic,format=bgr24${turn}`;
}

/**
 * Where gathered pixels come from: for shrink factors of 3 and more ffmpeg's remap filter keeps only
 * the two columns and two rows each output pixel reads (maps on file descriptors 3 and 4), so the
 * pipe carries about 4 / factor^2 of the frame. The pixels are the converted frame's own bytes.
 */
export interface GatherMaps {
  width: number;
  height: number;
  columns: Uint16Array;
  rows: Uint16Array;
  /** One tap per output pixel on both axes: the gathered image is the shrunk frame (1280x720 -> 256x144). */
  exact?: boolean;
}

/** ffmpeg arguments decoding the first video stream of `file` to BGR24 frames as cv2 reads them. */
export function decodeArguments(file: string, pixelFormat: string, gather?: GatherMaps, rotation = 0): string[] {
  // One filter thread: the graph's work per frame is small, and sharing it out cost more CPU than it saved
  // (a 20 s 720p clip through conversion and remap: 2.3-2.7 s of CPU with the default threads, 2.2-2.3 s with one).
  const input = ['-nostdin', '-hide_banner', '-v', 'error', '-filter_threads', '1', '-filter_complex_threads', '1', '-noautorotate', '-i', `file:${file}`];
  // Every decoded frame once, in order, as OpenCV's grab() returns them (no CFR duplication).
  const output = ['-an', '-sn', '-dn', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1'];
  if (!gather) return [...input, '-map', '0:v:0', '-vf', opencvConversionFilter(pixelFormat, rotation), ...output];
  const map = ['-f', 'rawvideo', '-pix_fmt', 'gray16le', '-s', `${gather.width}x${gather.height}`];
  return [
    ...input, ...map, '-i', 'pipe:3', ...map, '-i', 'pipe:4',
    '-filter_complex', `[0:v:0]${opencvConversionFilter(pixelFormat, rotation)}[frames];[frames][1:v][2:v]remap[gathered]`,
    '-map', '[gathered]', ...output,
  ];
}

/** One gray16le map frame: the x (or y) source coordinate of every gathered pixel. */
function mapFrame(gather: GatherMaps, axis: 'x' | 'y'): Buffer {
  const data = Buffer.alloc(gather.width * gather.height * 2);
  for (let row = 0, o = 0; row < gather.height; row++) {
    for (let column = 0; column < gather.width; column++, o += 2) {
      data.writeUInt16LE(axis === 'x' ? gather.columns[column]! : gather.rows[row]!, o);
    }
  }
  return data;
}

/**
 * Detects scenes in a local video file as PySceneDetect 0.6.4 does with VideoManager + SceneManager
 * (auto downscale) + ContentDetector(threshold, min_scene_len). Streams frames from one ffmpeg
 * decode; memory is two full frames whatever the video's length.
 */
export async function detectScenes(path: string, options: DetectScenesOptions = {}): Promise<SceneDetection> {
  const file = resolve(path);
  if (options.signal?.aborted) throw abortError(file);
  const stream = await probeVideoStream(file, options.signal);
  const size = detectorSize(stream.width, stream.height);
  const detector = new ContentDetector(size.width, size.height, options);
  const downscaler = size.factor > 1 ? new LinearDownscaler(stream.width, stream.height, size.width, size.height) : undefined;
  const gather = downscaler?.canGather && size.factor >= 3 ? downscaler.gatherMaps() : undefined;
  const frameBytes = gather ? gather.width * gather.height * 3 : stream.width * stream.height * 3;
  const frame = Buffer.allocUnsafe(frameBytes);
  // Frames gathered exactly (one tap per output pixel on both axes) are already at the detector's size.
  const small = downscaler && !gather?.exact ? new Uint8Array(size.width * size.height * 3) : frame;

  const child = spawn(ffmpegPath(), decodeArguments(file, stream.pixelFormat, gather, stream.rotation), {
    env: toolEnv(), stdio: gather ? ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
  });
  if (gather) {
    for (const [fd, axis] of [[3, 'x'], [4, 'y']] as const) {
      const pipe = child.stdio[fd] as Writable;
      // ffmpeg may stop reading (a decode error); its exit is reported below, not this write.
      pipe.on('error', () => undefined);
      pipe.end(mapFrame(gather, axis));
    }
  }
  let stderrTail = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderrTail = (stderrTail + chunk).slice(-4_000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit, rejectExit) => {
    child.once('error', (error) => rejectExit(new Error(`scene detection of ${file}: ffmpeg could not start: ${error.message}`)));
    child.once('close', (code, signal) => resolveExit({ code, signal }));
  });
  exited.catch(() => undefined);
  let aborted = false;
  const onAbort = () => { aborted = true; child.kill('SIGKILL'); };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let filled = 0;
  let frameNumber = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(frameBytes - filled, chunk.length - offset);
        chunk.copy(frame, filled, offset, offset + take);
        filled += take;
        offset += take;
        if (filled === frameBytes) {
          if (gather) {
            if (!gather.exact) downscaler!.resizeGathered(frame, small);
          } else if (downscaler) downscaler.resize(frame, small);
          const score = detector.processFrame(frameNumber, small);
          options.onFrameScore?.(frameNumber, score);
          frameNumber++;
          filled = 0;
        }
      }
    }
    const exit = await exited;
    if (aborted) throw abortError(file);
    if (exit.code !== 0) {
      throw new DecodeError(`scene detection of ${file}: ffmpeg ${exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`}: ${lastLines(stderrTail) || 'no message'}`);
    }
    if (filled !== 0) throw new DecodeError(`scene detection of ${file}: expected whole ${stream.width}x${stream.height} frames, got ${filled} trailing bytes (the frame size changed mid-stream?)`);
  } catch (error) {
    if (aborted) throw abortError(file);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const cuts = detector.cuts.slice();
  return {
    fps: stream.fps,
    frameCount: frameNumber,
    cuts,
    scenes: scenesFromCuts(cuts, frameNumber),
    detectorWidth: size.width,
    detectorHeight: size.height,
  };
}
