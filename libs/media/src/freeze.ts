import { ffmpegPath } from './binaries.js';
import { describeExit, lastLines, runProcess } from './process.js';

/** The original FineVideo dynamism filter's constants (a contract: verdicts must not change). */
export const ORIGINAL_FREEZE_SETTINGS = {
  segmentSec: 60,
  /** freezedetect noise tolerance. */
  noise: 0.05,
  /** freezedetect minimum freeze duration, seconds. */
  minFreezeSec: 50,
  /** A video is static when frozen segments / segments >= this. */
  staticShare: 0.4,
} as const;

export type FreezeSettings = typeof ORIGINAL_FREEZE_SETTINGS;

/**
 * full: every frame decoded (the original's verdicts, exactly).
 * fast: only key frames decoded; the same thresholds. Much cheaper, verdicts may differ near the thresholds.
 */
export type FreezeMode = 'full' | 'fast';

export interface FreezeVerdict {
  durationSec: number;
  segments: number;
  frozenSegments: number;
  /** Indexes of frozen segments, ascending. */
  frozenIndexes: number[];
  frozenShare: number;
  static: boolean;
}

/** Segments start at 0, 60, 120... below the duration: ceil(duration / 60) of them. */
export function segmentCount(durationSec: number, segmentSec: number = ORIGINAL_FREEZE_SETTINGS.segmentSec): number {
  return Math.max(0, Math.ceil(durationSec / segmentSec));
}

export function freezeVerdict(durationSec: number, frozenIndexes: Iterable<number>, settings: FreezeSettings = ORIGINAL_FREEZE_SETTINGS): FreezeVerdict {
  const segments = segmentCount(durationSec, settings.segmentSec);
  const frozen = [...new Set(frozenIndexes)].filter((i) => i >= 0 && i < segments).sort((a, b) => a - b);
  const frozenShare = segments ? frozen.length / segments : 0;
  return {
    durationSec, segments, frozenSegments: frozen.length, frozenIndexes: frozen, frozenShare,
    static: segments > 0 && frozenShare >= settings.staticShare,
  };
}

/** The decoder could not read the whole video (corrupt, truncated). */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

const FREEZE_START = /lavfi\.freezedetect\.freeze_start: (-?[0-9.]+(?:e[+-]?\d+)?)/;

/** Times of every "freeze_start" report in ffmpeg's log. */
export function parseFreezeStarts(stderrLines: Iterable<string>): number[] {
  const starts: number[] = [];
  for (const line of stderrLines) {
    const m = FREEZE_START.exec(line);
    if (m) starts.push(Number(m[1]));
  }
  return starts;
}

const fmt = (n: number) => Number(n.toFixed(6)).toString();

/** Far more than one segment (plus a late first frame), so branch k's times stay in [k*s, (k+1)*s). */
const branchSpacing = (settings: FreezeSettings) => Math.max(1000, 10 * Math.ceil(settings.segmentSec));

/** The segment a freeze_start of the segmented graph belongs to. */
export function segmentOfFreezeStart(time: number, settings: FreezeSettings = ORIGINAL_FREEZE_SETTINGS): number {
  return Math.floor(time / branchSpacing(settings));
}

/**
 * One filter graph that reproduces one ffmpeg run per segment in a single decode:
 * the decoded frames are split into one branch per segment, each branch keeps its
 * segment's frames with `trim` (the very filter ffmpeg inserts for `-ss S -t 60` on
 * an input) and runs its own freezedetect, which therefore starts afresh at the
 * segment boundary exactly like the original's separate processes. ffmpeg's log does
 * not say which filter instance spoke, so each branch moves its timestamps to start
 * at k * BRANCH_TIME_SPACING (freezedetect only uses differences): a reported
 * freeze_start then names its segment as floor(t / spacing). The untouched branch
 * goes to the null output and reports progress.
 */
export function segmentedFreezeGraph(segments: number, settings: FreezeSettings = ORIGINAL_FREEZE_SETTINGS): string {
  if (!Number.isInteger(segments) || segments < 1) throw new Error(`segments: expected a positive integer, got ${segments}`);
  const labels = Array.from({ length: segments }, (_, k) => `[s${k}]`).join('');
  const detect = `freezedetect=n=${fmt(settings.noise)}:d=${fmt(settings.minFreezeSec)}`;
  const branches = Array.from({ length: segments }, (_, k) =>
    `[s${k}]trim=start=${fmt(k * settings.segmentSec)}:duration=${fmt(settings.segmentSec)},` +
    `setpts=PTS-STARTPTS+${branchSpacing(settings) * k}/TB,${detect},nullsink`);
  return [`[0:v:0]split=${segments + 1}[pass]${labels}`, ...branches].join(';');
}

export interface DetectOptions {
  mode?: FreezeMode;
  settings?: FreezeSettings;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Duration of the video stream (from a probe); used to notice a decode that stopped early. */
  expectedVideoSec?: number;
}

/** Input options of a mode: fast mode discards non-key packets before they reach the decoder. */
export function modeInputArgs(mode: FreezeMode): string[] {
  return mode === 'fast' ? ['-skip_frame', 'nokey', '-discard', 'nokey'] : [];
}

function parseProgressEnd(stdout: string): number | undefined {
  const matches = [...stdout.matchAll(/^out_time_us=(\d+)$/gm)];
  const last = matches.at(-1);
  return last ? Number(last[1]) / 1e6 : undefined;
}

/**
 * The original's verdict from ONE ffmpeg pass (see segmentedFreezeGraph). Throws
 * DecodeError when ffmpeg fails or the decode stops short of the probed duration.
 */
export async function detectFrozenSegments(file: string, durationSec: number, options: DetectOptions = {}): Promise<FreezeVerdict> {
  const settings = options.settings ?? ORIGINAL_FREEZE_SETTINGS;
  const mode = options.mode ?? 'full';
  const segments = segmentCount(durationSec, settings.segmentSec);
  if (segments === 0) return freezeVerdict(durationSec, [], settings);
  const lines: string[] = [];
  let partialFile = false;
  const result = await runProcess(ffmpegPath(), [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    ...modeInputArgs(mode), '-i', file,
    '-an', '-sn', '-dn', '-filter_complex', segmentedFreezeGraph(segments, settings),
    '-map', '[pass]', '-f', 'null', '-progress', 'pipe:1', '-',
  ], {
    captureStdout: true,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    onStderrLine: (line) => {
      if (line.includes('freeze_start')) lines.push(line);
      if (line.includes('partial file')) partialFile = true;
    },
  });
  if (result.exitCode !== 0) throw new DecodeError(`ffmpeg ${describeExit(result)}: ${lastLines(result.stderrTail) || 'no message'}`);
  if (partialFile) throw new DecodeError(`truncated file: ffmpeg reported "partial file" (${lastLines(result.stderrTail, 1)})`);
  const decodedSec = parseProgressEnd(result.stdout);
  const expected = options.expectedVideoSec ?? durationSec;
  // Key frames can be far apart, so only a full decode can tell "ended early" from "last key frame".
  if (mode === 'full' && decodedSec !== undefined && decodedSec < expected - Math.max(5, expected * 0.05)) {
    throw new DecodeError(`truncated video: decoded ${decodedSec.toFixed(1)} s of ${expected.toFixed(1)} s`);
  }
  const frozen = parseFreezeStarts(lines).map((t) => segmentOfFreezeStart(t, settings));
  return freezeVerdict(durationSec, frozen, settings);
}

/**
 * The original method, kept as the reference for tests and benchmarks: one ffmpeg
 * process per 60 s segment (`-ss S -t 60 -i FILE -vf freezedetect`), a segment being
 * frozen when its run reports any freeze_start. Costs one process and one seek per segment.
 */
export async function detectFrozenSegmentsPerSegment(file: string, durationSec: number, options: Omit<DetectOptions, 'mode'> = {}): Promise<FreezeVerdict> {
  const settings = options.settings ?? ORIGINAL_FREEZE_SETTINGS;
  const frozen: number[] = [];
  const segments = segmentCount(durationSec, settings.segmentSec);
  for (let k = 0; k < segments; k++) {
    const lines: string[] = [];
    const result = await runProcess(ffmpegPath(), [
      '-hide_banner', '-nostdin', '-nostats',
      '-ss', fmt(k * settings.segmentSec), '-t', fmt(settings.segmentSec), '-i', file,
      '-vf', `freezedetect=n=${fmt(settings.noise)}:d=${fmt(settings.minFreezeSec)}`, '-an', '-f', 'null', '-',
    ], { timeoutMs: options.timeoutMs, signal: options.signal, onStderrLine: (line) => { if (line.includes('freeze_start')) lines.push(line); } });
    if (result.exitCode !== 0) throw new DecodeError(`ffmpeg (segment ${k}) ${describeExit(result)}: ${lastLines(result.stderrTail)}`);
    if (lines.length) frozen.push(k);
  }
  return freezeVerdict(durationSec, frozen, settings);
}

/** The decode floor: `ffmpeg -i FILE -f null -`, every stream decoded, nothing else. For benchmarks. */
export async function decodeOnly(file: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const result = await runProcess(ffmpegPath(), ['-hide_banner', '-nostdin', '-nostats', '-i', file, '-f', 'null', '-'], options);
  if (result.exitCode !== 0) throw new DecodeError(`ffmpeg ${describeExit(result)}: ${lastLines(result.stderrTail)}`);
}
