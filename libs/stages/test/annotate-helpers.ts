import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mediaLayout, type Outcome } from '@finevideo/core';
import { orderedPool } from '@finevideo/runtime';
import { FileStore } from '@finevideo/storage';
import { generateVideo } from '@finevideo/testing';
import { annotateParams, annotateStage, type AnnotateItem } from '@finevideo/stages/annotate';
import { mediaItemContext } from './media-context.js';

let sample: Promise<string> | undefined;

/** One small generated video (6 s, sound), made once per test process and copied per id. */
export function sampleVideo(): Promise<string> {
  sample ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annotate-video-'));
    const path = join(dir, 'sample.mp4');
    await generateVideo(path, { sections: [{ kind: 'motion', seconds: 6 }], fps: 4, audio: true });
    return path;
  })();
  return sample;
}

/** Ids of 11 characters, as YouTube's. */
export const videoId = (i: number) => `vid${String(i).padStart(8, '0')}`;

export const itemOf = (i: number): AnnotateItem => ({ video_id: videoId(i), duration_seconds: 6, title: `video ${i}`, description: 'a test video', transcript: 'hello there' });

/** A folder store holding the sample video (and a VTT) under media/<id>/ for each id. */
export async function storeWithVideos(n: number, options: { vtt?: string } = {}): Promise<{ store: FileStore; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'annotate-store-'));
  const video = await sampleVideo();
  for (let i = 0; i < n; i++) {
    const target = join(dir, mediaLayout(videoId(i)).video);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(video, target);
  }
  const store = new FileStore(dir);
  if (options.vtt) for (let i = 0; i < n; i++) await store.put(mediaLayout(videoId(i)).subtitles, options.vtt);
  return { store, dir };
}

/** Runs processItem over items with the stage's concurrency, as a worker would; outcomes in item order. */
export async function annotateAll(store: FileStore, params: Record<string, unknown>, items: AnnotateItem[], signal?: AbortSignal) {
  const p = annotateParams.parse(params);
  const ctx = await mediaItemContext(store, p);
  if (signal) ctx.signal = signal;
  const out: Outcome[] = [];
  await orderedPool(items, annotateStage.itemConcurrency(p), async (it) => (await annotateStage.processItem(it, ctx)) as Outcome, (o) => {
    out.push(o);
  });
  return { out, counters: ctx.counters, warnings: ctx.warnings };
}

export const rowOf = (o: Outcome) => ('row' in o && o.row ? o.row : {}) as Record<string, unknown>;
