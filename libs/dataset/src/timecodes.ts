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
 * end is its last frame (inclusive), so the next scene starts on the cut itself (see alignContentMetadata).
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
/** FIXED (1): a leading qualifier is dropped and the time after it kept. */
const QUALIFIER = /^(?:around|about|approx\.?|approximately|roughly|circa|ca\.|at|~|≈)\s*/;
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

/** The frame shown at a time: round(seconds * fps), as the original (FrameTimecode from seconds). */
export const secondsToFrame = (seconds: number, fps: number): number => Math.round(seconds * fps);

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
  warnings: string[];
}

export type AlignFailure =
  | { kind: 'timestamp'; field: string; text: string; message: string }
  | { kind: 'shift'; sceneId: number; frames: number; message: string }
  | { kind: 'video'; message: string };

export type AlignResult = { ok: true; metadata: AlignedContentMetadata; stats: AlignStats } | { ok: false; failure: AlignFailure };

export const ALIGN_DEFAULTS = { snapWindowSec: 2, warnShiftFrames: 25, failShiftFrames: 125 } as const;

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

/**
 * Aligns a model's content_metadata to the scenes detected in its video, with the original's contract:
 * - the last scene's end is the video's last frame (whatever the model wrote);
 * - a scene's start snaps to the nearest detected scene start, its end to the nearest detected scene end,
 *   when that is closer than 2 s (2 * fps frames);
 * - each scene then starts exactly one frame after the previous scene's end; a move of more than 25 frames
 *   warns, of more than 125 frames fails the video;
 * - inner timestamps (activities, props, editing details, mood key moments, narrative moments) are parsed
 *   and clamped into their scene ("end" is the scene's end); trimming suggestions are clamped into the scene
 *   each timestamp falls in and the climax into the video ("end" is the video's end);
 * - every timecode is HH:MM:SS.mmm, `fps` is added. A timestamp naming no time ("n/a") becomes "" (the
 *   schema's strings are not nullable; the original wrote null).
 *
 * Frames are 0-based and a scene's end is its last frame (inclusive): a detected scene [s, e) ends at e - 1,
 * and a model's scene end names the boundary, so it ends on the frame before. The original compared the
 * model's end with PySceneDetect's exclusive end and then started the next scene one frame after it, so
 * every scene began one frame after its cut; here a scene starts on its cut.
 */
export function alignContentMetadata(metadata: ContentMetadata, detection: DetectedScenes, options: AlignOptions = {}): AlignResult {
  const { snapWindowSec, warnShiftFrames, failShiftFrames } = { ...ALIGN_DEFAULTS, ...stripUndefined(options) };
  const fps = detection.fps;
  const frameCount = options.frameCount ?? detection.frameCount;
  if (!(Number.isFinite(fps) && fps > 0)) return { ok: false, failure: { kind: 'video', message: `frame rate: expected a positive number, got ${fps}` } };
  if (!(Number.isInteger(frameCount) && frameCount > 0)) return { ok: false, failure: { kind: 'video', message: `frame count: expected a positive integer, got ${frameCount}` } };
  if (!metadata.scenes.length) return { ok: false, failure: { kind: 'video', message: 'scenes: expected at least one scene, got none' } };
  const lastFrame = frameCount - 1;
  const window = snapWindowSec * fps;
  const detectedStarts = detection.scenes.length ? detection.scenes.map((s) => s.startFrame) : [0];
  const detectedEnds = detection.scenes.length ? detection.scenes.map((s) => s.endFrame - 1) : [lastFrame];
  const warnings: string[] = [];
  let largestShiftFrames = 0;
  let snappedStarts = 0;
  let snappedEnds = 0;

  const parse = (text: string, field: string): TimestampValue => {
    const parsed = parseTimestamp(text, field);
    if (!parsed.ok) throw new AlignStop({ kind: 'timestamp', ...parsed.error });
    return parsed.value;
  };
  /** A scene boundary must be a time: "end" or "n/a" cannot place a scene. */
  const boundary = (text: string, field: string): number => {
    const value = parse(text, field);
    if (value.kind !== 'time') {
      throw new AlignStop({ kind: 'timestamp', field, text, message: `${field}: expected a time for a scene boundary, got ${quote(text)}` });
    }
    return value.seconds;
  };

  try {
    // Scene boundaries in frames, in order.
    const bounds: { start: number; end: number }[] = [];
    metadata.scenes.forEach((scene, i) => {
      const path = `scenes[${i}].timestamps`;
      const isLast = i === metadata.scenes.length - 1;
      let start = secondsToFrame(boundary(scene.timestamps.start_timestamp, `${path}.start_timestamp`), fps);
      const snapStart = nearest(detectedStarts, start);
      if (snapStart !== undefined && snapStart !== start && Math.abs(snapStart - start) < window) {
        start = snapStart;
        snappedStarts += 1;
      }
      let end: number;
      if (isLast) {
        end = lastFrame;
      } else {
        end = Math.max(0, secondsToFrame(boundary(scene.timestamps.end_timestamp, `${path}.end_timestamp`), fps) - 1);
        const snapEnd = nearest(detectedEnds, end);
        if (snapEnd !== undefined && snapEnd !== end && Math.abs(snapEnd - end) < window) {
          end = snapEnd;
          snappedEnds += 1;
        }
      }
      const previous = bounds[i - 1];
      if (previous) {
        const continuous = previous.end + 1;
        const shift = Math.abs(start - continuous);
        largestShiftFrames = Math.max(largestShiftFrames, shift);
        if (shift > failShiftFrames) {
          throw new AlignStop({ kind: 'shift', sceneId: scene.sceneId, frames: shift, message: `scene ${scene.sceneId} (scenes[${i}]): start moved ${shift} frames to follow the previous scene (more than ${failShiftFrames})` });
        }
        if (shift > warnShiftFrames) warnings.push(`scene ${scene.sceneId}: start moved ${shift} frames to follow the previous scene (more than ${warnShiftFrames})`);
        start = continuous;
      }
      bounds.push({ start, end });
    });

    const timecode = (frame: number) => formatTimecode(frame, fps);
    /** An inner timestamp as a timecode clamped into [low, high]; "end" is `endFrame`; no time is "". */
    const inner = (text: string, field: string, low: number, high: number, endFrame: number): string => {
      const value = parse(text, field);
      if (value.kind === 'none') return '';
      if (value.kind === 'end') return timecode(endFrame);
      return timecode(clamp(secondsToFrame(value.seconds, fps), low, high));
    };

    const scenes = metadata.scenes.map((scene, i) => {
      const { start, end } = bounds[i]!;
      const at = (text: string, field: string) => inner(text, `scenes[${i}].${field}`, start, end, end);
      const span = (s: { start_timestamp: string; end_timestamp: string }, field: string) => ({
        start_timestamp: at(s.start_timestamp, `${field}.start_timestamp`),
        end_timestamp: at(s.end_timestamp, `${field}.end_timestamp`),
      });
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
    const trimmingAt = (text: string, field: string): string => {
      const value = parse(text, field);
      if (value.kind === 'none') return '';
      if (value.kind === 'end') return timecode(videoEnd);
      const frame = secondsToFrame(value.seconds, fps);
      const scene = sceneOf(frame);
      return timecode(clamp(frame, scene.start, scene.end));
    };
    const trimmingSuggestions = metadata.trimmingSuggestions.map((t, k) => ({
      ...t,
      timestamps: {
        start_timestamp: trimmingAt(t.timestamps.start_timestamp, `trimmingSuggestions[${k}].timestamps.start_timestamp`),
        end_timestamp: trimmingAt(t.timestamps.end_timestamp, `trimmingSuggestions[${k}].timestamps.end_timestamp`),
      },
    }));
    // FIXED (4): the climax is clamped into the video.
    const climax = {
      ...metadata.storylines.climax,
      timestamp: inner(metadata.storylines.climax.timestamp, 'storylines.climax.timestamp', 0, lastFrame, videoEnd),
    };

    const aligned: AlignedContentMetadata = {
      ...metadata,
      scenes,
      storylines: { ...metadata.storylines, climax },
      trimmingSuggestions,
      fps,
    };
    return {
      ok: true,
      metadata: aligned,
      stats: { sceneCount: scenes.length, cutCount: detection.cuts.length, fps, frameCount, largestShiftFrames, snappedStarts, snappedEnds, warnings },
    };
  } catch (error) {
    if (error instanceof AlignStop) return { ok: false, failure: error.failure };
    throw error;
  }
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A timecode written by alignment (HH:MM:SS.mmm) back to seconds; undefined for "" or other text. */
export function timecodeSeconds(timecode: string): number | undefined {
  const m = /^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$/.exec(timecode);
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}
