import { FINEVIDEO_CONTENT_DETECTOR, detectScenes, type SceneDetection } from '@finevideo/media';
import type { ContentMetadata, Scene } from '@finevideo/dataset';
import { ItemFailure } from '../retry.js';
import { storedOrDetectScenes } from '../../stored-scenes.js';
import type { Cue } from '../transcript.js';
import type { Backend, BackendContext, VideoInput } from './types.js';

/** The label every baseline row, counter and summary line carries. */
export const BASELINE_LABEL = 'baseline annotator';

/** HH:MM:SS.mmm from seconds (frame times are exact; models write whole seconds). */
export function timecode(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/**
 * An annotation without a model, from what is measured or given only:
 * - scenes: the cuts scene detection finds (ContentDetector, threshold sceneThreshold), each cut also
 *   listed as an editing detail of the scene it starts;
 * - title and description: the video's metadata;
 * - narrativeProgression: the subtitle lines that start inside each scene, at their times.
 * What needs understanding stays empty (characters, cast, activities, props, mood, interactions,
 * themes, relevance, storylines, Q&A, trimming); the two required scores are 0, which in a row labelled
 * "baseline annotator" means not measured (see the README).
 */
export function baselineAnnotation(video: Pick<VideoInput, 'title' | 'description'>, scenes: { start: number; end: number }[], cues: readonly Cue[]): ContentMetadata {
  const list: Scene[] = scenes.map((s, i) => ({
    sceneId: i + 1,
    title: '',
    timestamps: { start_timestamp: timecode(s.start), end_timestamp: timecode(s.end) },
    cast: [],
    activities: [],
    props: [],
    videoEditingDetails: i === 0 ? [] : [{ description: 'cut (detected)', timestamps: { start_timestamp: timecode(s.start), end_timestamp: timecode(s.start) } }],
    mood: { description: '', keyMoments: [] },
    narrativeProgression: cues
      .filter((c) => c.startSeconds >= s.start && (c.startSeconds < s.end || (i === scenes.length - 1 && c.startSeconds <= s.end)))
      .map((c) => ({ description: c.text, timestamp: timecode(c.startSeconds) })),
    characterInteraction: [],
    thematicElements: '',
    contextualRelevance: '',
    dynamismScore: 0,
    audioVisualCorrelation: 0,
  }));
  return {
    title: video.title,
    description: video.description,
    characterList: [],
    scenes: list,
    storylines: { description: '', scenes: [], climax: { description: '', timestamp: '' } },
    qAndA: [],
    trimmingSuggestions: [],
  };
}

async function detect(video: VideoInput, ctx: BackendContext): Promise<{ start: number; end: number }[]> {
  let detection: SceneDetection;
  const decode = () => detectScenes(video.videoPath, { threshold: ctx.params.sceneThreshold, signal: ctx.signal });
  try {
    if (ctx.store) {
      // Stored once per video and settings; align (threshold 15) reuses it instead of decoding again.
      const settings = { threshold: ctx.params.sceneThreshold, minSceneLen: FINEVIDEO_CONTENT_DETECTOR.minSceneLen };
      const found = await storedOrDetectScenes(ctx.store, video.videoId, settings, decode);
      if (found.problem) ctx.log.warn(`stored scenes not used: ${found.problem}`, { video_id: video.videoId });
      ctx.count(found.reused ? 'baseline_scenes_reused' : 'baseline_scenes_detected');
      detection = found.detection;
    } else {
      detection = await decode();
    }
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    throw new ItemFailure(`scene-detection-failed: ${(e as Error).message.slice(0, 300)}`);
  }
  const fps = detection.fps;
  if (!(fps > 0) || detection.scenes.length === 0) {
    // A video whose frames could not be counted still has one scene: the whole of it, when its length is known.
    if (video.durationSeconds > 0) return [{ start: 0, end: video.durationSeconds }];
    throw new ItemFailure(`scene-detection-failed: no frames decoded from ${video.videoId}`);
  }
  return detection.scenes.map((s) => ({ start: s.startFrame / fps, end: s.endFrame / fps }));
}

export const baselineBackend: Backend = {
  check: () => undefined,
  open: async (video, ctx) => {
    const scenes = await detect(video, ctx);
    ctx.count('baseline_annotator_items');
    const raw = JSON.stringify(baselineAnnotation(video, scenes, video.cues));
    return { ask: () => Promise.resolve({ raw, truncated: false }), close: () => Promise.resolve() };
  },
};
