/**
 * Scene detection: PySceneDetect 0.6's ContentDetector, in TypeScript, over frames ffmpeg decodes.
 * NOT BUILT YET (issue 11): the interface below is the contract the align stage and the baseline
 * annotator code against; detectScenes throws until the detector lands.
 */
export interface ContentDetectorOptions {
  /** ContentDetector threshold (FineVideo used 15). */
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
  /** Scenes covering [0, frameCount) in order, as PySceneDetect's scene list. */
  scenes: DetectedScene[];
}

export interface DetectScenesOptions extends ContentDetectorOptions {
  signal?: AbortSignal;
}

export async function detectScenes(path: string, _options: DetectScenesOptions = {}): Promise<SceneDetection> {
  throw new Error(`scene detection of ${path}: not built yet (issue 11)`);
}
