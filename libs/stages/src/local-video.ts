import { rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mediaLayout, type ObjectStore } from '@finevideo/core';
import { Semaphore } from '@finevideo/llm';
import { VideoCorruptError, checkVideoIntegrity, type ProbeResult } from '@finevideo/media';

/** The reason class of a video file that is not whole (truncated, unreadable, not the size download recorded): never kept. */
export const VIDEO_CORRUPT = 'video-corrupt';

export interface LocalVideo {
  path: string;
  /** True when the video was copied into the scratch folder (the caller removes it when done). */
  copied: boolean;
}

/**
 * A local path of a stored video (ffmpeg needs a file): in place for a folder store, else a copy in the
 * chunk's scratch folder named after the stage. Undefined when the video is not in storage. The id must
 * already be checked with isVideoId.
 */
export async function localVideo(store: ObjectStore, videoId: string, tmpDir: string, stage: string): Promise<LocalVideo | undefined> {
  const key = mediaLayout(videoId).video;
  const inPlace = store.localPath(key);
  if (inPlace) {
    try {
      await stat(inPlace);
      return { path: inPlace, copied: false };
    } catch (error) {
      if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') return undefined;
      throw error;
    }
  }
  if (!(await store.exists(key))) return undefined;
  const path = join(tmpDir, `${stage}-${videoId}.mp4`);
  await store.download(key, path);
  return { path, copied: true };
}

/**
 * Checks running at once in this process: one per core. A stage with many items in flight (annotate's
 * window) would otherwise start an ffprobe for each at once and starve its own requests of CPU.
 */
const checks = new Semaphore(Math.max(1, availableParallelism()));

export type OpenedVideo = { ok: true; video: LocalVideo; facts: ProbeResult } | { ok: false; reason: string };

/**
 * localVideo, then checked whole before use (checkVideoIntegrity: the size download recorded when given,
 * ffprobe, a decode of the video stream's last seconds against the container's duration). A missing file is
 * `video missing: ...`, a truncated or unreadable one `video-corrupt: ...`: the item's error row, never kept.
 */
export async function openVideo(
  store: ObjectStore, videoId: string, tmpDir: string, stage: string, options: { expectedBytes?: number | null; signal?: AbortSignal } = {},
): Promise<OpenedVideo> {
  const key = mediaLayout(videoId).video;
  const video = await localVideo(store, videoId, tmpDir, stage);
  if (!video) return { ok: false, reason: `video missing: expected ${key} in storage, got none` };
  try {
    return { ok: true, video, facts: await checks.run(() => checkVideoIntegrity(video.path, options)) };
  } catch (error) {
    if (video.copied) await rm(video.path, { force: true });
    if (error instanceof VideoCorruptError && !options.signal?.aborted) return { ok: false, reason: `${VIDEO_CORRUPT}: ${key}: ${error.message}` };
    throw error;
  }
}
