import { z } from 'zod';
import { isVideoId, type ObjectStore } from '@finevideo/core';
import { FINEVIDEO_CONTENT_DETECTOR, scenesFromCuts, type SceneDetection } from '@finevideo/media';

/**
 * A scene detection is stored once per video and detector settings, beside the annotation
 * (scenes/<id>.json), and reused: align on a re-run or a retry and the baseline annotator read it
 * instead of decoding the video again. A stored file that is not a detection of this video with
 * these settings is ignored (and replaced by the next detection), never trusted.
 */
export interface SceneSettings {
  threshold: number;
  minSceneLen: number;
}

/** Settings as FineVideo ran ContentDetector, stored under the plain scenes/<id>.json. */
const FINEVIDEO: SceneSettings = FINEVIDEO_CONTENT_DETECTOR;

/** scenes/<id>.json for FineVideo's settings, scenes/<id>.t<threshold>-m<minSceneLen>.json for others. */
export function storedScenesKey(videoId: string, settings: SceneSettings): string {
  if (!isVideoId(videoId)) throw new RangeError(`stored scenes: expected a video id, got ${JSON.stringify(videoId)?.slice(0, 40)}`);
  if (!(Number.isFinite(settings.threshold) && settings.threshold >= 0)) throw new RangeError(`stored scenes: expected a threshold >= 0, got ${settings.threshold}`);
  if (!(Number.isInteger(settings.minSceneLen) && settings.minSceneLen >= 0)) throw new RangeError(`stored scenes: expected an integer minSceneLen >= 0, got ${settings.minSceneLen}`);
  const isDefault = settings.threshold === FINEVIDEO.threshold && settings.minSceneLen === FINEVIDEO.minSceneLen;
  return isDefault ? `scenes/${videoId}.json` : `scenes/${videoId}.t${settings.threshold}-m${settings.minSceneLen}.json`;
}

const storedScenesSchema = z.strictObject({
  video_id: z.string(),
  detector: z.literal('ContentDetector'),
  threshold: z.number(),
  min_scene_len: z.number().int(),
  fps: z.number().min(0),
  frame_count: z.number().int().min(0),
  cuts: z.array(z.number().int().positive()),
  detector_width: z.number().int().positive().optional(),
  detector_height: z.number().int().positive().optional(),
});
type StoredScenes = z.infer<typeof storedScenesSchema>;

/** Why a stored file cannot be used, or undefined when it is this video's detection with these settings. */
function storedProblem(stored: StoredScenes, videoId: string, settings: SceneSettings): string | undefined {
  if (stored.video_id !== videoId) return `expected video ${videoId}, got ${stored.video_id}`;
  if (stored.threshold !== settings.threshold || stored.min_scene_len !== settings.minSceneLen) {
    return `expected threshold ${settings.threshold} and min_scene_len ${settings.minSceneLen}, got ${stored.threshold} and ${stored.min_scene_len}`;
  }
  const unordered = stored.cuts.findIndex((cut, i) => cut >= stored.frame_count || (i > 0 && cut <= stored.cuts[i - 1]!));
  if (unordered >= 0) return `expected ascending cuts below frame_count ${stored.frame_count}, got ${stored.cuts[unordered]} at ${unordered}`;
  return undefined;
}

/** The stored detection, or undefined (with the reason) when there is none or it cannot be used. */
export async function readStoredScenes(
  store: ObjectStore, videoId: string, settings: SceneSettings,
): Promise<{ detection?: SceneDetection; problem?: string }> {
  const key = storedScenesKey(videoId, settings);
  const text = await store.getText(key);
  if (text === undefined) return {};
  let parsed;
  try {
    parsed = storedScenesSchema.safeParse(JSON.parse(text));
  } catch (error) {
    return { problem: `${key}: expected JSON, got unreadable text (${(error as Error).message.slice(0, 120)})` };
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `${key}: at ${issue.path.join('.') || '(root)'}: ${issue.message.slice(0, 160)}` };
  }
  const stored = parsed.data;
  const problem = storedProblem(stored, videoId, settings);
  if (problem) return { problem: `${key}: ${problem}` };
  return {
    detection: {
      fps: stored.fps, frameCount: stored.frame_count, cuts: stored.cuts, scenes: scenesFromCuts(stored.cuts, stored.frame_count),
      detectorWidth: stored.detector_width, detectorHeight: stored.detector_height,
    },
  };
}

/** Stores a detection (one small JSON object, rewritten whole: idempotent). */
export async function writeStoredScenes(store: ObjectStore, videoId: string, settings: SceneSettings, detection: SceneDetection): Promise<void> {
  const stored: StoredScenes = {
    video_id: videoId, detector: 'ContentDetector', threshold: settings.threshold, min_scene_len: settings.minSceneLen,
    fps: detection.fps, frame_count: detection.frameCount, cuts: detection.cuts,
    detector_width: detection.detectorWidth, detector_height: detection.detectorHeight,
  };
  await store.put(storedScenesKey(videoId, settings), JSON.stringify(stored), { contentType: 'application/json' });
}

/**
 * The stored detection when there is a usable one, else `detect()`'s, stored for the next reader.
 * `reused` says which; `problem` why a stored file was not used.
 */
export async function storedOrDetectScenes(
  store: ObjectStore, videoId: string, settings: SceneSettings, detect: () => Promise<SceneDetection>,
): Promise<{ detection: SceneDetection; reused: boolean; problem?: string }> {
  const stored = await readStoredScenes(store, videoId, settings);
  if (stored.detection) return { detection: stored.detection, reused: true };
  const detection = await detect();
  await writeStoredScenes(store, videoId, settings, detection);
  return { detection, reused: false, ...(stored.problem ? { problem: stored.problem } : {}) };
}
