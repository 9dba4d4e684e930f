import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { isVideoId, type ItemContext, type MapStage, type ObjectStore, type Outcome, type PlanContext, type Row } from '@finevideo/core';
import { DecodeError, FINEVIDEO_CONTENT_DETECTOR, ProbeError, detectScenes, type SceneDetection } from '@finevideo/media';
import { ALIGN_DEFAULTS, alignContentMetadata, alignedContentMetadataSchema, contentMetadataSchema, type AlignFailure } from '@finevideo/dataset';
import { openVideo } from '../local-video.js';
import { readStoredScenes, writeStoredScenes } from '../stored-scenes.js';

/**
 * Stage 8, fine alignment: the model's timestamps of each annotated video become frame-accurate
 * HH:MM:SS.mmm timecodes, snapped to the scenes detected in the video (PySceneDetect's ContentDetector,
 * threshold 15, as FineVideo). The rules are libs/dataset's alignContentMetadata; this stage does the I/O.
 */
export const alignParams = z.strictObject({
  /** ContentDetector threshold (FineVideo used 15). */
  threshold: z.number().positive().default(15),
  /** A scene boundary snaps to a detected one closer than this (the original's 2 s). */
  snapWindowSec: z.number().positive().default(ALIGN_DEFAULTS.snapWindowSec),
  /** A scene start moved more than this many frames for continuity warns (the original's 25). */
  warnShiftFrames: z.number().int().min(0).default(ALIGN_DEFAULTS.warnShiftFrames),
  /** ... and more than this fails the video (the original's 125). */
  failShiftFrames: z.number().int().min(0).default(ALIGN_DEFAULTS.failShiftFrames),
  /** A model time past the video's end by more than this is impossible: an error row naming the field and the text. */
  overrunToleranceSec: z.number().min(0).default(ALIGN_DEFAULTS.overrunToleranceSec),
  /** Videos at once in one worker (detection decodes a whole video on the CPU). */
  concurrency: z.number().int().min(1).max(16).default(1),
});
export type AlignParams = z.infer<typeof alignParams>;

export interface AlignItem {
  video_id: string;
  /** The duration the video's metadata states (carried to the anomaly stage's duration rule). */
  duration_seconds: number | null;
  /** Who annotated ("baseline annotator" or a backend name), carried to the anomaly stage. */
  annotator: string | null;
}

export interface AlignRow extends Row {
  video_id: string;
  aligned_key: string;
  scenes: number;
  cuts: number;
  largest_shift_frames: number;
  snapped_starts: number;
  snapped_ends: number;
  warning_count: number;
  /** The warnings joined by "; " ("" when none). */
  warnings: string;
  fps: number;
  frame_count: number;
  /** The file's duration from its frames (frame_count / fps). */
  file_duration: number;
  /** The latest scene time the model gave, before the last scene was stretched to the end (anomaly's early-stop rule). */
  model_end_seconds: number;
  duration_seconds: number | null;
  annotator: string | null;
}

/** Per-video keys at the storage root (DESIGN.md's layout); only ever called with a checked id. */
export const alignLayout = (videoId: string) => ({
  annotation: `annotations/${videoId}.json`,
  aligned: `aligned/${videoId}.json`,
});

/** The error class of each alignment failure (the text before ':' in the reason). */
const FAILURE_CLASS: Record<AlignFailure['kind'], string> = {
  timestamp: 'timestamp unparseable',
  impossible: 'timestamp impossible',
  shift: 'scene shift too large',
  video: 'video unusable',
};

/** The scene detector, replaceable in tests. */
export type Detector = (path: string, options: { threshold: number; signal: AbortSignal }) => Promise<SceneDetection>;


/** The stored annotation, schema-checked; a reason when it is missing or bad. */
async function readAnnotation(store: ObjectStore, videoId: string) {
  const key = alignLayout(videoId).annotation;
  const text = await store.getText(key);
  if (text === undefined) return { ok: false as const, reason: `annotation missing: expected ${key} in storage, got none` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false as const, reason: `annotation invalid: ${key} is not JSON (${(error as Error).message.slice(0, 120)})` };
  }
  const parsed = contentMetadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false as const, reason: `annotation invalid: ${key} at ${issue.path.join('.') || '(root)'}: ${issue.message.slice(0, 160)}` };
  }
  return { ok: true as const, metadata: parsed.data };
}

export async function alignVideo(item: AlignItem, ctx: ItemContext<AlignParams>, detect: Detector = detectScenes): Promise<Outcome<AlignRow>> {
  const videoId = item.video_id;
  if (!isVideoId(videoId)) {
    return { status: 'error', reason: `invalid video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(videoId)?.slice(0, 40)}` };
  }
  const base = { video_id: videoId, duration_seconds: item.duration_seconds, annotator: item.annotator };
  const annotation = await readAnnotation(ctx.store, videoId);
  if (!annotation.ok) return { status: 'error', reason: annotation.reason, row: base };
  // A detection stored by an earlier run or try (or the baseline annotator) is reused: no decode.
  const sceneSettings = { threshold: ctx.params.threshold, minSceneLen: FINEVIDEO_CONTENT_DETECTOR.minSceneLen };
  const stored = await readStoredScenes(ctx.store, videoId, sceneSettings);
  if (stored.problem) ctx.log.warn(`stored scenes not used: ${stored.problem}`, { video_id: videoId });
  let detection: SceneDetection;
  if (stored.detection) {
    detection = stored.detection;
    ctx.count('align_scenes_reused');
  } else {
    // Checked whole first (size, container, a tail decode): a truncated file is an error row video-corrupt.
    const opened = await openVideo(ctx.store, videoId, ctx.tmpDir, 'align', { signal: ctx.signal });
    if (!opened.ok) return { status: 'error', reason: opened.reason, row: base };
    const { video } = opened;
    try {
      detection = await detect(video.path, { threshold: ctx.params.threshold, signal: ctx.signal });
    } catch (error) {
      // A file ffmpeg cannot read is this video's failure; anything else (the detector missing, no
      // ffmpeg, an abort) would hit every video, so it fails the chunk.
      if (!ctx.signal.aborted && (error instanceof DecodeError || error instanceof ProbeError)) {
        return { status: 'error', reason: `scene detection failed: ${error.message.slice(0, 200)}`, row: base };
      }
      throw error;
    } finally {
      if (video.copied) await rm(video.path, { force: true });
    }
    ctx.count('align_frames_decoded', detection.frameCount);
    await writeStoredScenes(ctx.store, videoId, sceneSettings, detection);
  }

  const { snapWindowSec, warnShiftFrames, failShiftFrames, overrunToleranceSec } = ctx.params;
  const result = alignContentMetadata(annotation.metadata, detection, { snapWindowSec, warnShiftFrames, failShiftFrames, overrunToleranceSec });
  const measured = { cuts: detection.cuts.length, fps: detection.fps, frame_count: detection.frameCount, file_duration: detection.fps > 0 ? detection.frameCount / detection.fps : 0 };
  if (!result.ok) {
    // The message names the field and the model's text (or the scene and the shift).
    return { status: 'error', reason: `${FAILURE_CLASS[result.failure.kind]}: ${result.failure.message}`, row: { ...base, ...measured } };
  }
  // Checked before writing: only schema-valid content_metadata is ever stored.
  const valid = alignedContentMetadataSchema.safeParse(result.metadata);
  if (!valid.success) {
    const issue = valid.error.issues[0]!;
    return { status: 'error', reason: `aligned invalid: at ${issue.path.join('.')}: ${issue.message.slice(0, 160)}`, row: { ...base, ...measured } };
  }
  const key = alignLayout(videoId).aligned;
  await ctx.store.put(key, JSON.stringify(valid.data), { contentType: 'application/json' });
  const { stats } = result;
  if (stats.warnings.length) ctx.count('align_warnings', stats.warnings.length);
  return {
    status: 'kept',
    row: {
      ...base, ...measured, aligned_key: key, scenes: stats.sceneCount, largest_shift_frames: stats.largestShiftFrames,
      snapped_starts: stats.snappedStarts, snapped_ends: stats.snappedEnds, model_end_seconds: stats.modelEndSec, warning_count: stats.warnings.length, warnings: stats.warnings.join('; '),
    },
  };
}

const num = (v: unknown) => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

/** One item per annotated video, with the duration its metadata states and who annotated it. */
async function* alignItems(ctx: PlanContext<AlignParams>): AsyncIterable<AlignItem> {
  for await (const row of ctx.previousRows()) {
    if (typeof row.video_id !== 'string') continue;
    yield { video_id: row.video_id, duration_seconds: num(row.duration_seconds), annotator: typeof row.annotator === 'string' ? row.annotator : null };
  }
}

export const alignStage: MapStage<AlignParams, AlignItem, AlignRow> = {
  name: 'align',
  kind: 'map',
  description: 'snaps each annotation\'s timestamps to detected scene cuts (ContentDetector threshold 15, 2 s window, contiguous scenes, 25/125-frame rule), refuses impossible times, records the model\'s coverage, and writes frame-accurate HH:MM:SS.mmm timecodes to aligned/<id>.json',
  params: alignParams,
  image: 'finevideo/stage-align',
  resources: { pool: 'cpu', cpu: '2', memory: '1Gi' },
  defaultItemsPerChunk: 50,
  itemConcurrency: (params) => params.concurrency,
  // Annotate's rows: the id, the metadata's duration and the annotator (for the anomaly stage's rules).
  inputColumns: ['video_id', 'duration_seconds', 'annotator'],
  listItems: alignItems,
  itemKey: (item) => String(item.video_id),
  processItem: (item, ctx) => alignVideo(item, ctx),
};
