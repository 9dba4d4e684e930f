import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { isVideoId, mediaLayout, type ItemContext, type MapStage, type Outcome, type Row } from '@finevideo/core';
import { DecodeError, ProbeError, detectFrozenSegments, probe, type FreezeMode } from '@finevideo/media';
import { videoIdItems, type DownloadItem } from '../download/index.js';
import { localVideo } from '../local-video.js';
import { storePosters } from '../posters.js';

export { exportPosterPaths, storePosters, type PosterKeys } from '../posters.js';

export const dynamismParams = z.object({
  /** full: every frame, the original's verdicts exactly; fast: key frames only (see the benchmark for agreement). */
  mode: z.enum(['full', 'fast']).default('full'),
  /** Hard limit for one ffmpeg run. */
  timeoutSec: z.number().positive().default(3_600),
  /** Videos at once in one worker (ffmpeg already decodes with several threads). */
  concurrency: z.number().int().min(1).max(16).default(1),
  /** Make each video's poster and hover-scrub strip (media/<id>/poster.jpg, strip.jpg) for the explorer. */
  posters: z.boolean().default(true),
}).strict();

export type DynamismParams = z.infer<typeof dynamismParams>;

export interface DynamismRow extends Row {
  video_id: string;
  duration: number;
  segments: number;
  frozen_segments: number;
  frozen_share: number;
  static: boolean;
  mode: FreezeMode;
}


export async function judgeDynamism(item: DownloadItem, ctx: ItemContext<DynamismParams>): Promise<Outcome<DynamismRow>> {
  const videoId = item.video_id;
  if (!isVideoId(videoId)) {
    return { status: 'error', reason: `invalid video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(videoId)?.slice(0, 40)}` };
  }
  const mode = ctx.params.mode;
  const video = await localVideo(ctx.store, videoId, ctx.tmpDir, 'dynamism');
  if (!video) return { status: 'error', reason: `video missing: expected ${mediaLayout(videoId).video} in storage, got none`, row: { video_id: videoId, mode } };
  try {
    const timeoutMs = ctx.params.timeoutSec * 1000;
    let facts;
    try {
      facts = await probe(video.path, { timeoutMs, signal: ctx.signal });
    } catch (error) {
      if (error instanceof ProbeError) return { status: 'error', reason: `probe failed: ${error.message}`, row: { video_id: videoId, mode } };
      throw error;
    }
    if (!facts.hasVideo) {
      return { status: 'error', reason: 'no video stream', row: { video_id: videoId, duration: facts.durationSec, mode } };
    }
    let verdict;
    try {
      verdict = await detectFrozenSegments(video.path, facts.durationSec, { mode, timeoutMs, signal: ctx.signal, expectedVideoSec: facts.video?.durationSec });
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (error instanceof DecodeError) return { status: 'error', reason: `decode failed: ${error.message}`, row: { video_id: videoId, duration: facts.durationSec, mode } };
      throw error;
    }
    ctx.count('dynamism_seconds_decoded', Math.round(facts.durationSec));
    // The first stage that decodes the video makes its poster and strip (media/<id>/, outside the run), so the
    // explorer has them for a run without export; a failure is a counted warning, never the video's error.
    if (ctx.params.posters) {
      const keys = mediaLayout(videoId);
      await storePosters(ctx, videoId, video.path, facts.video?.durationSec ?? facts.durationSec, { poster: keys.poster, strip: keys.strip });
    }
    const row: DynamismRow = {
      video_id: videoId,
      duration: verdict.durationSec,
      segments: verdict.segments,
      frozen_segments: verdict.frozenSegments,
      frozen_share: verdict.frozenShare,
      static: verdict.static,
      mode,
    };
    return verdict.static ? { status: 'dropped', reason: 'static', row } : { status: 'kept', row };
  } finally {
    if (video.copied) await rm(video.path, { force: true });
  }
}

export const dynamismStage: MapStage<DynamismParams, DownloadItem, DynamismRow> = {
  name: 'dynamism',
  kind: 'map',
  description: 'Drops static videos: 60 s segments, ffmpeg freezedetect n=0.05 d=50, static when frozen share >= 0.4 (one decode per video).',
  params: dynamismParams,
  image: 'finevideo/stage-dynamism',
  resources: { pool: 'cpu', cpu: '2', memory: '1Gi' },
  defaultItemsPerChunk: 50,
  itemConcurrency: (params) => params.concurrency,
  // Only the id is read from the previous table: reading every column cost 26 s instead of 3 s at 2,000,000 rows.
  inputColumns: ['video_id'],
  listItems: videoIdItems,
  itemKey: (item) => String(item.video_id),
  processItem: judgeDynamism,
};
