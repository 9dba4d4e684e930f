import type { AlignedContentMetadata, ContentMetadata } from './annotation.js';

/**
 * Timecodes: model timestamps ("00:01:05", "65", "12s", "end", "n/a") parsed with the rules of FineVideo's
 * alignment script (finealignment/video_alignment.py), and the alignment of a whole content_metadata to
 * the scenes detected in the video. Pure functions: no I/O, and bad model text is a result, never a throw.
 *
 * Defects of the original fixed here (each marked "FIXED" where it is fixed):
 * 1. "around 0:30" and "~1:05" were errors or empty (the text *before* the qualifier was kept); they parse
 *    to the time they name.
 * 2. The last scene's end was written as MM:SS (hours and the fraction lost); every timecode here is
 *    HH:MM:SS.mmm with hours kept.
 * 3. Trimming suggestions were clamped into the *last* scene (a leaked loop variable); each of their
 *    timestamps is clamped into the scene it falls in.
 * 4. The climax was parsed but not clamped; it is clamped into the video.
 * 5. A bad timestamp raised and a missing annotation crashed the worker; here every failure is a value
 *    naming the field and the text (the align stage turns it into an error row).
 * Deliberate differences, also documented: colon forms keep their fraction ("0:05.9" is 5.9 s; the original
 * truncated it to 5 s, up to a second early); "none" and "null" read as no time, as "n/a" does; a scene's
 * end is its last frame (inclusive), so the next scene starts on the cut itself (see alignContentMetadata);
 * a time past the video's end (beyond a tolerance) or a span ending before it starts fails the video
 * instead of being clamped into a made-up time.
 */

/** What a model timestamp names: a time, the end of its scene, or nothing ("n/a", "throughout"). */
export type TimestampValue = { kind: 'time'; seconds: number } | { kind: 'end' } | { kind: 'none' };

/** A timestamp that could not be read: the field (a JSON path) and the model's text. */
export interface TimestampError {
  field: string;
  text: string;
  message: string;
}

export type TimestampParse = { ok: true; value: TimestampValue } | { ok: false; error: TimestampError };

/** Texts that name no time (the original's list, compared in lower case, plus "none" and "null"). */
const NO_TIME = new Set(['', 'n/a', 'varies', 'throughout', 'throughout scene', 'throughout the scene', 'not present', 'not applicable', 'none', 'null']);
/** "scene 3", "scene 3 onwards": the original read these as no time. */
const SCENE_REFERENCE = /^scene\s\d+/;
const END = /^(?:the\s+)?end(?:\s+of\s+(?:the\s+)?(?:scene|video))?$/;
/**
 * FIXED (1): a leading qualifier is dropped and the time after it kept. A word qualifier must be followed
 * by a space or a digit, so "approximately 1:00" drops the whole word (not "approx", leaving "imately").
 */
const QUALIFIER = /^(?:(?:around|about|approximately|approx\.?|roughly|circa|ca\.|at)(?=[\s\d])|~|≈)\s*/;
/** Range and offset separators: the part before the first one is the time (ranges take their start). */
const SEPARATOR = /[~+\-–—]/;
const SECONDS = /^(\d+(?:\.\d+)?)(?:s|sec|secs|second|seconds)?$/;
const MINUTES_SECONDS = /^(\d+):(\d+(?:[.,]\d+)?)$/;
const HOURS_MINUTES_SECONDS = /^(\d+):(\d+):(\d+(?:[.,]\d+)?)$/;
const UNITS = /^(?:(\d+)(?:h|hr|hrs|hours?))?(?:(\d+)(?:m|min|mins|minutes?))?(?:(\d+(?:\.\d+)?)(?:s|sec|secs|seconds?))?$/;

const quote = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
const decimal = (text: string) => Number(text.replace(',', '.'));

/**
 * Parses one model timestamp. `field` names it in the error (e.g. "scenes[2].timestamps.start_timestamp").
 * Rules: "end" -> the scene's end; "", "n/a", "varies", "throughout (the scene)", "not present",
 * "not applicable", "scene N" -> no time; a leading "around"/"~" is dropped; a range or offset
 * ("0:30-0:45", "0:30+") keeps its first part; in "mm:ss note" the first token is kept; then h:m:s, m:s,
 * plain seconds ("12", "12.5", "12s"), or "1m30s". Anything else is an error.
 */
export function parseTimestamp(text: string, field: string): TimestampParse {
  const fail = (why: string): TimestampParse => ({ ok: false, error: { field, text, message: `${field}: expected a timestamp (h:m:s, m:s or seconds), got ${quote(text)}${why ? ` (${why})` : ''}` } });
  if (typeof text !== 'string') return fail('not a string');
  const lower = text.trim().toLowerCase();
  if (NO_TIME.has(lower) || SCENE_REFERENCE.test(lower)) return { ok: true, value: { kind: 'none' } };
  if (END.test(lower)) return { ok: true, value: { kind: 'end' } };
  const unqualified = lower.replace(QUALIFIER, '');
  const first = unqualified.split(SEPARATOR)[0]!.trim();
  if (!first) return fail(unqualified ? 'nothing before the range or offset sign' : '');
  const seconds = leadingSeconds(first);
  if (seconds === undefined || !Number.isFinite(seconds)) return fail('');
  return { ok: true, value: { kind: 'time', seconds } };
}

/**
 * The time at the start of a text: the longest run of its first words (up to four, joined) that reads as
 * a time, so "0:30 approx" is 0:30 (the original's `mm:ss note`), "12 seconds" 12 and "1 min 30 s" 90.
 */
function leadingSeconds(text: string): number | undefined {
  const words = text.split(/\s+/).slice(0, 4);
  words[0] = words[0]!.replace(/^[([]+/, '');
  let found: number | undefined;
  for (let n = 1; n <= words.length; n++) {
    // Words join only through a unit ("1 min 30 s"), never number to number ("5 6" is not 56).
    if (n > 1 && /\d$/.test(words[n - 2]!) && /^\d/.test(words[n - 1]!)) break;
    const seconds = secondsOf(words.slice(0, n).join('').replace(/[)\].,;:]+$/, ''));
    if (seconds !== undefined) found = seconds;
  }
  return found;
}

function secondsOf(token: string): number | undefined {
  let m = SECONDS.exec(token);
  if (m) return Number(m[1]);
  m = MINUTES_SECONDS.exec(token);
  if (m) return Number(m[1]) * 60 + decimal(m[2]!);
  m = HOURS_MINUTES_SECONDS.exec(token);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60 + decimal(m[3]!);
  m = token ? UNITS.exec(token) : null;
  if (m && (m[1] || m[2] || m[3])) return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return undefined;
}

/**
 * Rounds to the nearest integer, a half to the even neighbour: Python 3's round(), which the original's
 * `round(seconds * fps)` (and PySceneDetect's FrameTimecode from seconds) used. Math.round would send
 * every half up (2.5 -> 3 where the original gave 2).
 */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The frame shown at a time: round(seconds * fps) with Python's rounding, as the original. */
export const secondsToFrame = (seconds: number, fps: number): number => roundHalfEven(seconds * fps);

/** A frame's time as HH:MM:SS.mmm; hours are kept past 99 (FIXED (2): the original lost them). */
export function formatTimecode(frame: number, fps: number): string {
  return formatSeconds(frame / fps);
}

export function formatSeconds(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor(ms / 60_000) % 60;
  const secs = Math.floor(ms / 1000) % 60;
  return `${pad(hours)}:${pad(minutes)}:${pad(secs)}.${pad(ms % 1000, 3)}`;
}

/** The detected scenes of a video (libs/media's SceneDetection has this shape). */
export interface DetectedScenes {
  fps: number;
  frameCount: number;
  /** Frames where a new scene starts, ascending, excluding 0. */
  cuts: readonly number[];
  /** Scenes covering [0, frameCount); endFrame is exclusive (the next scene's first frame). */
  scenes: readonly { startFrame: number; endFrame: number }[];
}

export interface AlignOptions {
  /** The video's frame count when it differs from the detector's (default: detection.frameCount). */
  frameCount?: number;
  /** Snap a boundary to a detected one when closer than this (the original's 2 s, i.e. 2 * fps frames). */
  snapWindowSec?: number;
  /** A continuity shift above this many frames warns (the original's 25). */
  warnShiftFrames?: number;
  /** A continuity shift above this many frames fails the video (the original's 125). */
  failShiftFrames?: number;
  /** A time past the video's end by more than this is impossible and fails the video (not clamped). */
  overrunToleranceSec?: number;
}

export interface AlignStats {
  sceneCount: number;
  cutCount: number;
  fps: number;
  frameCount: number;
  /** The largest move of a scene start to keep scenes contiguous (the figure the 25/125 rule judges). */
  largestShiftFrames: number;
  /** Scene starts and ends moved onto a detected boundary. */
  snappedStarts: number;
  snappedEnds: number;
  /**
   * The model's own coverage: the latest scene boundary it gave, in seconds, before the last scene was
   * stretched to the video's end ("end" as the last scene's end counts as the video's end). The anomaly
   * stage's `early-stop` rule compares it with the video's duration.
   */
  modelEndSec: number;
  warnings: string[];
}

export type AlignFailure =
  | { kind: 'timestamp'; field: string; text: string; message: string }
  /** A time that cannot be: past the video's end (beyond the tolerance), or an end before its start. */
  | { kind: 'impossible'; field: string; text: string; message: string }
  | { kind: 'shift'; sceneId: number; frames: number; message: string }
  | { kind: 'video'; message: string };

export type AlignResult = { ok: true; metadata: AlignedContentMetadata; stats: AlignStats } | { ok: false; failure: AlignFailure };

export const ALIGN_DEFAULTS = { snapWindowSec: 2, warnShiftFrames: 25, failShiftFrames: 125, overrunToleranceSec: 5 } as const;

/** Thrown inside alignContentMetadata only, caught there: a parse failure ends the video's alignment. */
class AlignStop extends Error {
  constructor(readonly failure: AlignFailure) {
    super(failure.message);
  }
}

/** The nearest value of an ascending list (the first of two equally near). */
function nearest(sorted: readonly number[], target: number): number | undefined {
  if (!sorted.length) return undefined;
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  const after = sorted[lo]!;
  const before = lo > 0 ? sorted[lo - 1]! : undefined;
  return before !== undefined && target - before <= after - target ? before : after;
}

const clamp = (frame: number, low: number, high: number) => Math.min(Math.max(frame, low), high);
const secondsText = (s: number) => `${Math.round(s * 1000) / 1000} s`;

/**
 * Reads the model's timestamps of one video: a parse failure, a time past the video's end (beyond the
 * tolerance) and a span ending before it starts each stop the alignment with a failure naming the field.
 */
class TimeReader {
  constructor(private readonly durationSec: number, private readonly toleranceSec: number) {}

  parse(text: string, field: string): TimestampValue {
    const parsed = parseTimestamp(text, field);
    if (!parsed.ok) throw new AlignStop({ kind: 'timestamp', ...parsed.error });
    const value = parsed.value;
    if (value.kind === 'time' && value.seconds > this.durationSec + this.toleranceSec) {
      throw new AlignStop({
        kind: 'impossible', field, text,
        message: `${field}: ${quote(text)} is past the video's end (${secondsText(this.durationSec)}, tolerance ${this.toleranceSec} s)`,
      });
    }
    return value;
  }

  /** A scene boundary must be a time: "end" or "n/a" cannot place a scene. */
  boundary(text: string, field: string): number {
    const value = this.parse(text, field);
    if (value.kind !== 'time') {
      throw new AlignStop({ kind: 'timestamp', field, text, message: `${field}: expected a time for a scene boundary, got ${quote(text)}` });
    }
    return value.seconds;
  }

  /** Both ends of a span; an end before its start (both times) is impossible. */
  span(s: { start_timestamp: string; end_timestamp: string }, field: string): [TimestampValue, TimestampValue] {
    const start = this.parse(s.start_timestamp, `${field}.start_timestamp`);
    const end = this.parse(s.end_timestamp, `${field}.end_timestamp`);
    this.ordered(start, end, s, field);
    return [start, end];
  }

  ordered(start: TimestampValue, end: TimestampValue, s: { start_timestamp: string; end_timestamp: string }, field: string): void {
    if (start.kind === 'time' && end.kind === 'time' && end.seconds < start.seconds) {
      throw new AlignStop({
        kind: 'impossible', field: `${field}.end_timestamp`, text: s.end_timestamp,
        message: `${field}.end_timestamp: ${quote(s.end_timestamp)} is before its start ${quote(s.start_timestamp)}`,
      });
    }
  }
}

interface SceneBounds {
  bounds: { start: number; end: number }[];
  modelEndSec: number;
  largestShiftFrames: number;
  snappedStarts: number;
  snappedEnds: number;
  warnings: string[];
}

/**
 * The scene boundaries in frames: snapped to detected ones within the window, made contiguous (the
 * 25/125-frame rule), the last scene stretched to the last frame; and the model's own last time.
 */
function placeScenes(metadata: ContentMetadata, detection: DetectedScenes, lastFrame: number, reader: TimeReader, o: Required<Omit<AlignOptions, 'frameCount'>>): SceneBounds {
  const fps = detection.fps;
  const window = o.snapWindowSec * fps;
  const detectedStarts = detection.scenes.length ? detection.scenes.map((s) => s.startFrame) : [0];
  const detectedEnds = detection.scenes.length ? detection.scenes.map((s) => s.endFrame - 1) : [lastFrame];
  const out: SceneBounds = { bounds: [], modelEndSec: 0, largestShiftFrames: 0, snappedStarts: 0, snappedEnds: 0, warnings: [] };
  const snap = (frame: number, detected: readonly number[]) => {
    const to = nearest(detected, frame);
    return to !== undefined && to !== frame && Math.abs(to - frame) < window ? to : undefined;
  };
  metadata.scenes.forEach((scene, i) => {
    const path = `scenes[${i}].timestamps`;
    const isLast = i === metadata.scenes.length - 1;
    const startSec = reader.boundary(scene.timestamps.start_timestamp, `${path}.start_timestamp`);
    // The last scene's end is the video's last frame whatever the model wrote, but what it wrote is its coverage.
    const endValue = isLast ? lastSceneEnd(scene.timestamps.end_timestamp, `${path}.end_timestamp`, reader, (lastFrame + 1) / fps)
      : { kind: 'time' as const, seconds: reader.boundary(scene.timestamps.end_timestamp, `${path}.end_timestamp`) };
    reader.ordered({ kind: 'time', seconds: startSec }, endValue, scene.timestamps, path);
    out.modelEndSec = Math.max(out.modelEndSec, startSec, endValue.kind === 'time' ? endValue.seconds : 0);
    let start = secondsToFrame(startSec, fps);
    const snapStart = snap(start, detectedStarts);
    if (snapStart !== undefined) {
      start = snapStart;
      out.snappedStarts += 1;
    }
    let end = lastFrame;
    if (!isLast && endValue.kind === 'time') {
      end = Math.max(0, secondsToFrame(endValue.seconds, fps) - 1);
      const snapEnd = snap(end, detectedEnds);
      if (snapEnd !== undefined) {
        end = snapEnd;
        out.snappedEnds += 1;
      }
    }
    const previous = out.bounds[i - 1];
    if (previous) {
      const continuous = previous.end + 1;
      const shift = Math.abs(start - continuous);
      out.largestShiftFrames = Math.max(out.largestShiftFrames, shift);
      if (shift > o.failShiftFrames) {
        throw new AlignStop({ kind: 'shift', sceneId: scene.sceneId, frames: shift, message: `scene ${scene.sceneId} (scenes[${i}]): start moved ${shift} frames to follow the previous scene (more than ${o.failShiftFrames})` });
      }
      if (shift > o.warnShiftFrames) out.warnings.push(`scene ${scene.sceneId}: start moved ${shift} frames to follow the previous scene (more than ${o.warnShiftFrames})`);
      start = continuous;
    }
    out.bounds.push({ start, end });
  });
  return out;
}

/**
 * The last scene's end as the model wrote it, read leniently as the original (which ignored it): a time
 * is the model's coverage (checked against the video's end), "end" the video's end, anything else nothing.
 */
function lastSceneEnd(text: string, field: string, reader: TimeReader, videoEndSec: number): TimestampValue {
  const parsed = parseTimestamp(text, field);
  if (!parsed.ok || parsed.value.kind === 'none') return { kind: 'none' };
  if (parsed.value.kind === 'end') return { kind: 'time', seconds: videoEndSec };
  return reader.parse(text, field);
}

/**
 * Aligns a model's content_metadata to the scenes detected in its video, with the original's contract:
 * - the last scene's end is the video's last frame (whatever the model wrote; what it wrote is recorded
 *   as the model's coverage, stats.modelEndSec);
 * - a scene's start snaps to the nearest detected scene start, its end to the nearest detected scene end,
 *   when that is closer than 2 s (2 * fps frames);
 * - each scene then starts exactly one frame after the previous scene's end; a move of more than 25 frames
 *   warns, of more than 125 frames fails the video;
 * - inner timestamps (activities, props, editing details, mood key moments, narrative moments) are parsed
 *   and clamped into their scene ("end" is the scene's end); trimming suggestions are clamped into the scene
 *   each timestamp falls in and the climax into the video ("end" is the video's end);
 * - every timecode is HH:MM:SS.mmm, `fps` is added. A timestamp naming no time ("n/a") becomes null, as
 *   the original wrote it.
 * Not in the original: a time past the video's end by more than overrunToleranceSec, or a span (scene,
 * activity, prop, editing detail, trimming suggestion) ending before it starts, fails the video, naming the
 * field and the text; clamping such a time would publish a made-up one.
 *
 * Frames are 0-based and a scene's end is its last frame (inclusive): a detected scene [s, e) ends at e - 1,
 * and a model's scene end names the boundary, so it ends on the frame before. The original compared the
 * model's end with PySceneDetect's exclusive end and then started the next scene one frame after it, so
 * every scene began one frame after its cut; here a scene starts on its cut.
 */
export function alignContentMetadata(metadata: ContentMetadata, detection: DetectedScenes, options: AlignOptions = {}): AlignResult {
  const settings = { ...ALIGN_DEFAULTS, ...stripUndefined(options) };
  const fps = detection.fps;
  const frameCount = options.frameCount ?? detection.frameCount;
  if (!(Number.isFinite(fps) && fps > 0)) return { ok: false, failure: { kind: 'video', message: `frame rate: expected a positive number, got ${fps}` } };
  if (!(Number.isInteger(frameCount) && frameCount > 0)) return { ok: false, failure: { kind: 'video', message: `frame count: expected a positive integer, got ${frameCount}` } };
  if (!metadata.scenes.length) return { ok: false, failure: { kind: 'video', message: 'scenes: expected at least one scene, got none' } };
  const lastFrame = frameCount - 1;
  const reader = new TimeReader(frameCount / fps, settings.overrunToleranceSec);
  try {
    const placed = placeScenes(metadata, detection, lastFrame, reader, settings);
    const aligned = alignInner(metadata, placed.bounds, reader, fps, lastFrame);
    const { modelEndSec, largestShiftFrames, snappedStarts, snappedEnds, warnings } = placed;
    return {
      ok: true,
      metadata: aligned,
      stats: { sceneCount: aligned.scenes.length, cutCount: detection.cuts.length, fps, frameCount, largestShiftFrames, snappedStarts, snappedEnds, modelEndSec, warnings },
    };
  } catch (error) {
    if (error instanceof AlignStop) return { ok: false, failure: error.failure };
    throw error;
  }
}

type Span = { start_timestamp: string; end_timestamp: string };

/** Every inner timestamp as a timecode clamped into its scene (or the video), null where no time is named. */
function alignInner(metadata: ContentMetadata, bounds: { start: number; end: number }[], reader: TimeReader, fps: number, lastFrame: number): AlignedContentMetadata {
  const timecode = (frame: number) => formatTimecode(frame, fps);
  /** A value as a timecode clamped into [low, high]; "end" is `endFrame`; no time is null. */
  const place = (value: TimestampValue, low: number, high: number, endFrame: number): string | null => {
    if (value.kind === 'none') return null;
    if (value.kind === 'end') return timecode(endFrame);
    return timecode(clamp(secondsToFrame(value.seconds, fps), low, high));
  };
  const scenes = metadata.scenes.map((scene, i) => {
    const { start, end } = bounds[i]!;
    const at = (text: string, field: string) => place(reader.parse(text, `scenes[${i}].${field}`), start, end, end);
    const span = (s: Span, field: string) => {
      const [first, last] = reader.span(s, `scenes[${i}].${field}`);
      return { start_timestamp: place(first, start, end, end), end_timestamp: place(last, start, end, end) };
    };
    return {
      ...scene,
      timestamps: { start_timestamp: timecode(start), end_timestamp: timecode(end) },
      activities: scene.activities.map((a, k) => ({ ...a, timestamp: span(a.timestamp, `activities[${k}].timestamp`) })),
      props: scene.props.map((p, k) => ({ ...p, timestamp: span(p.timestamp, `props[${k}].timestamp`) })),
      videoEditingDetails: scene.videoEditingDetails.map((d, k) => ({ ...d, timestamps: span(d.timestamps, `videoEditingDetails[${k}].timestamps`) })),
      mood: {
        ...scene.mood,
        keyMoments: scene.mood.keyMoments.map((m, k) => ({ ...m, timestamp: at(m.timestamp, `mood.keyMoments[${k}].timestamp`) })),
      },
      narrativeProgression: scene.narrativeProgression.map((n, k) => ({ ...n, timestamp: at(n.timestamp, `narrativeProgression[${k}].timestamp`) })),
    };
  });

  const sceneStarts = bounds.map((b) => b.start);
  const videoEnd = bounds.at(-1)!.end;
  /** FIXED (3): the scene a frame falls in (the last whose start is at or before it; the first before all). */
  const sceneOf = (frame: number) => {
    let lo = 0;
    let hi = sceneStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sceneStarts[mid]! <= frame) lo = mid;
      else hi = mid - 1;
    }
    return bounds[lo]!;
  };
  const trimmingAt = (value: TimestampValue): string | null => {
    if (value.kind !== 'time') return place(value, 0, lastFrame, videoEnd);
    const frame = secondsToFrame(value.seconds, fps);
    const scene = sceneOf(frame);
    return timecode(clamp(frame, scene.start, scene.end));
  };
  const trimmingSuggestions = metadata.trimmingSuggestions.map((t, k) => {
    const [first, last] = reader.span(t.timestamps, `trimmingSuggestions[${k}].timestamps`);
    return { ...t, timestamps: { start_timestamp: trimmingAt(first), end_timestamp: trimmingAt(last) } };
  });
  // FIXED (4): the climax is clamped into the video.
  const climax = {
    ...metadata.storylines.climax,
    timestamp: place(reader.parse(metadata.storylines.climax.timestamp, 'storylines.climax.timestamp'), 0, lastFrame, videoEnd),
  };
  return { ...metadata, scenes, storylines: { ...metadata.storylines, climax }, trimmingSuggestions, fps };
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A timecode written by alignment (HH:MM:SS.mmm) back to seconds; undefined for null or other text. */
export function timecodeSeconds(timecode: string | null): number | undefined {
  if (timecode === null) return undefined;
  const m = /^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$/.exec(timecode);
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}
