import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, SystemicError, errorMessage, isVideoId, mediaLayout, type ItemContext, type MapStage, type Outcome, type PlanContext, type Row } from '@finevideo/core';
import { alignedContentMetadataSchema, exportJsonSchema, originalFilenames, type AlignedContentMetadata, type ExportJson } from '@finevideo/dataset';
import type { ProbeResult } from '@finevideo/media';
import { openVideo } from '../local-video.js';
import { sourceRefOf, withSourceText, type SourceRef } from '../ytcommons/source-text.js';
import { writeShard, type ShardRow } from './shard.js';
import { parseVtt } from './vtt.js';
import { OPTED_OUT, readExcludedIds } from './exclude.js';
import { exportPosterPaths, storePosters } from '../posters.js';

export { exportDuckDbMemory, writeShard, type ShardRow } from './shard.js';
export { parseVtt } from './vtt.js';
export { OPTED_OUT, parseExcludedIds, readExcludedIds } from './exclude.js';

export const exportParams = z.strictObject({
  /** Target size of one parquet file: a shard closes before the video that would pass it (a larger video is a shard alone). */
  shardSizeMB: z.number().positive().default(500),
  /**
   * Rows per parquet row group. Small: FineVideo rows are whole videos (about 14 MB on average), and the
   * Hub's dataset viewer and streaming readers fetch a row group at a time, so a group of a few videos is
   * what they download to show the first rows; the writer also holds one group in memory.
   */
  rowGroupRows: z.number().int().positive().default(4),
  /** Where the category (classify's top_level and category) and the YouTube-Commons metadata come from. */
  categoryStage: z.string().default('classify'),
  metadataStage: z.string().default('ytcommons'),
  /** Export root under the storage root; the run id is appended: export/<run-id>/. */
  exportPrefix: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative key prefix').default('export'),
  /**
   * `by-category`: data/<category>/train-*.parquet, a config per category (and a default of all);
   * `flat`: FineVideo's published layout, data/train-NNNNN-of-MMMMM.parquet and one default config.
   */
  layout: z.enum(['by-category', 'flat']).default('by-category'),
  /**
   * A file of YouTube ids (a key in the run's storage, one id a line, `#` comments) whose rows are left out:
   * creators who asked for removal. Each is a dropped row `opted-out` in the funnel. Null: none.
   */
  excludeIds: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative key in the run\'s storage').nullable().default(null),
  /** The stage whose rows recorded each video's size (`bytes`): a stored file of another size is `video-corrupt`. Null: no size check. */
  downloadStage: z.string().nullable().default('download'),
});
export type ExportParams = z.infer<typeof exportParams>;

/** One video of a shard, with everything the plan joined (the metadata of YouTube-Commons, the category). */
export interface ShardVideo {
  video_id: string;
  fine: string;
  parent: string;
  /** The stored file's size (for sizing shards). */
  bytes: number;
  /** The size download recorded (null: not recorded); a stored file of another size is corrupt. */
  recorded_bytes: number | null;
  title: string;
  description: string;
  categories: string[];
  tags: string[];
  channel: string;
  view_count: number;
  comment_count: number;
  like_count: number;
  channel_follower_count: number;
  upload_date: string;
  age_limit: number;
  word_count: number | null;
  /** Where the transcript is (the YouTube-Commons shard and row); null: the transcript text below. */
  source: SourceRef | null;
  text: string | null;
}

export interface ShardItem {
  /** The folder name of the top-level category (data/<category>/); null in the flat layout (data/). */
  category: string | null;
  shard: number;
  of: number;
  videos: ShardVideo[];
}

/** A category as a folder and config name: lower case, runs of other characters as one "_". */
export function categorySlug(topLevel: string): string {
  const slug = topLevel.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return slug || 'uncategorized';
}

export const shardName = (shard: number, of: number) => `train-${String(shard).padStart(5, '0')}-of-${String(of).padStart(5, '0')}.parquet`;
export const exportRoot = (p: Pick<ExportParams, 'exportPrefix'>, runId: string) => `${p.exportPrefix}/${runId}`;
/** A shard's path under the export root: data/<category>/train-... (by category) or data/train-... (flat). */
export const shardPath = (item: Pick<ShardItem, 'category' | 'shard' | 'of'>) => `data/${item.category === null ? '' : `${item.category}/`}${shardName(item.shard, item.of)}`;

const int = (v: unknown): number => {
  const n = Number(v);
  return v === null || v === undefined || v === '' || !Number.isFinite(n) ? 0 : Math.trunc(n);
};
const texts = (v: unknown): string[] => {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string' && v) return v.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
};

async function videoBytes(ctx: PlanContext<ExportParams>, id: string): Promise<number> {
  const key = mediaLayout(id).video;
  for await (const o of ctx.store.list(key)) if (o.key === key) return o.size;
  return 0;
}

/** Rows of an earlier stage named by a param; a wrong name is that param's configuration error. */
async function* rowsOf(ctx: PlanContext<ExportParams>, stage: string, param: string): AsyncIterable<Row> {
  try {
    yield* ctx.stageRows(stage);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`export.params.${param}: ${e.message}`);
    throw e;
  }
}

type Planned = Partial<ShardVideo> & { top: string };

/** Joins the category (classify), the metadata (ytcommons) and the recorded size (download) onto the wanted videos. */
async function joinFacts(ctx: PlanContext<ExportParams>, wanted: Map<string, Planned>): Promise<void> {
  const p = ctx.params;
  const of = (r: Row) => (typeof r.video_id === 'string' ? wanted.get(r.video_id) : undefined);
  for await (const r of rowsOf(ctx, p.categoryStage, 'categoryStage')) {
    const v = of(r);
    if (!v) continue;
    v.fine = String(r.category ?? '');
    v.parent = String(r.top_level ?? r.parent ?? '');
    v.top = v.parent;
  }
  for await (const m of rowsOf(ctx, p.metadataStage, 'metadataStage')) {
    const v = of(m);
    if (!v) continue;
    Object.assign(v, {
      title: String(m.title ?? ''), description: String(m.description ?? ''), categories: texts(m.categories), tags: texts(m.tags),
      channel: String(m.channel ?? ''), view_count: int(m.view_count), comment_count: int(m.comment_count), like_count: int(m.like_count),
      channel_follower_count: int(m.channel_follower_count), upload_date: String(m.upload_date ?? ''), age_limit: int(m.age_limit),
      word_count: m.word_count === null || m.word_count === undefined ? null : int(m.word_count),
      source: typeof m.text === 'string' ? null : (sourceRefOf(m) ?? null), text: typeof m.text === 'string' ? m.text : null,
    } satisfies Partial<ShardVideo>);
  }
  if (p.downloadStage === null) return;
  for await (const d of rowsOf(ctx, p.downloadStage, 'downloadStage')) {
    const v = of(d);
    const bytes = Number(d.bytes);
    if (v && d.bytes !== null && d.bytes !== undefined && Number.isSafeInteger(bytes) && bytes > 0) v.recorded_bytes = bytes;
  }
}

/** Videos split into shards of about shardSizeMB, in the given (deterministic) order. */
async function* shardsOf(ctx: PlanContext<ExportParams>, category: string | null, ids: string[], wanted: Map<string, Planned>): AsyncIterable<ShardItem> {
  const target = ctx.params.shardSizeMB * 1024 * 1024;
  const shards: ShardVideo[][] = [];
  let current: ShardVideo[] = [];
  let size = 0;
  for (const id of ids) {
    const { top: _top, ...rest } = wanted.get(id)!;
    const bytes = await videoBytes(ctx, id);
    if (current.length && size + bytes > target) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push({
      video_id: id, fine: '', parent: '', title: '', description: '', categories: [], tags: [], channel: '',
      view_count: 0, comment_count: 0, like_count: 0, channel_follower_count: 0, upload_date: '', age_limit: 0, word_count: null,
      source: null, text: null, recorded_bytes: null, ...rest, bytes,
    });
    size += bytes;
  }
  if (current.length) shards.push(current);
  for (const [i, videos] of shards.entries()) yield { category, shard: i, of: shards.length, videos };
}

async function* listShards(ctx: PlanContext<ExportParams>): AsyncIterable<ShardItem> {
  // Held in memory: the export's videos only (tens of thousands after selection), never the 2M candidates.
  const wanted = new Map<string, Planned>();
  for await (const row of ctx.previousRows()) if (isVideoId(row.video_id)) wanted.set(row.video_id, { top: '' });
  // A missing or malformed opt-out file stops the plan (before any shard is written), naming the param.
  await readExcludedIds(ctx.store, ctx.params.excludeIds);
  if (wanted.size === 0) return;
  await joinFacts(ctx, wanted);
  if (ctx.params.layout === 'flat') {
    // One folder, videos by id: a deterministic plan, so a re-plan names the same shards.
    yield* shardsOf(ctx, null, [...wanted.keys()].sort(), wanted);
    return;
  }
  // Category by category, videos by id.
  const byCategory = new Map<string, string[]>();
  for (const [id, v] of wanted) {
    const slug = categorySlug(v.top || 'uncategorized');
    let ids = byCategory.get(slug);
    if (!ids) byCategory.set(slug, (ids = []));
    ids.push(id);
  }
  for (const category of [...byCategory.keys()].sort()) yield* shardsOf(ctx, category, byCategory.get(category)!.sort(), wanted);
}

/** A storage failure is the machine's (the chunk is retried), never the video's. */
async function storage<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new SystemicError(`storage: ${what}: ${errorMessage(e)}`, 'storage unreachable', true, { cause: e });
  }
}

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The video's aligned annotation, schema-checked. */
async function alignedAnnotation(ctx: ItemContext<ExportParams>, id: string): Promise<Checked<AlignedContentMetadata>> {
  const key = `aligned/${id}.json`;
  const text = await storage(`reading ${key}`, () => ctx.store.getText(key));
  if (text === undefined) return { ok: false, reason: `annotation missing: expected ${key}, got none` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `annotation invalid: ${key} is not JSON: ${errorMessage(e)}` };
  }
  const annotation = alignedContentMetadataSchema.safeParse(parsed);
  if (!annotation.success) return { ok: false, reason: `annotation invalid: ${key}: ${issuesOf(annotation.error)}` };
  return { ok: true, value: annotation.data };
}

const issuesOf = (error: z.ZodError) => error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

/** The row's json: the annotation, the probed file's facts, the transcript and YouTube-Commons' metadata. */
function rowJson(v: ShardVideo, annotation: AlignedContentMetadata, facts: ProbeResult, transcript: string, vtt: string | undefined): ExportJson {
  const video = facts.video!;
  return {
    ...originalFilenames(v.video_id),
    content_parent_category: v.parent, content_fine_category: v.fine,
    content_metadata: { ...annotation, fps: video.fps ?? annotation.fps },
    duration_seconds: Math.round(facts.durationSec), resolution: video.width && video.height ? `${video.width}x${video.height}` : '',
    text_to_speech: transcript, text_to_speech_word_count: v.word_count ?? (transcript.match(/\S+/g)?.length ?? 0),
    timecoded_text_to_speech: vtt ? parseVtt(vtt) : [],
    youtube_title: v.title, youtube_description: v.description, youtube_categories: v.categories, youtube_tags: v.tags,
    youtube_channel: v.channel, youtube_view_count: v.view_count, youtube_comment_count: v.comment_count, youtube_like_count: v.like_count,
    youtube_channel_follower_count: v.channel_follower_count, youtube_upload_date: v.upload_date, youtube_age_limit: v.age_limit,
  };
}

/** One video's shard row, or the reason it is not exported (an error row of this video, never the chunk's). */
type ExportedRow = ShardRow & { durationSeconds: number };

async function exportRow(ctx: ItemContext<ExportParams>, v: ShardVideo, text: string | null | undefined, scratch: string): Promise<Checked<ExportedRow>> {
  const annotation = await alignedAnnotation(ctx, v.video_id);
  if (!annotation.ok) return annotation;
  // In place in a folder store, else streamed to scratch (disk, not memory); checked whole, then probed.
  await mkdir(scratch, { recursive: true });
  const opened = await openVideo(ctx.store, v.video_id, scratch, 'export', { expectedBytes: v.recorded_bytes, signal: ctx.signal });
  if (!opened.ok) return opened;
  const vtt = await storage(`reading ${mediaLayout(v.video_id).subtitles}`, () => ctx.store.getText(mediaLayout(v.video_id).subtitles));
  // The row is checked against the schema the card is generated from (a bad value is this video's error, not a bad file).
  const checked = exportJsonSchema.safeParse(rowJson(v, annotation.value, opened.facts, String(text ?? v.text ?? ''), vtt));
  if (!checked.success) return { ok: false, reason: `row invalid: ${issuesOf(checked.error)}` };
  return { ok: true, value: { videoPath: opened.video.path, json: checked.data, durationSeconds: opened.facts.video?.durationSec ?? opened.facts.durationSec } };
}

/** The video's poster and strip beside the shards (export/<run>/posters/); null columns when they could not be made. */
async function exportPosters(ctx: ItemContext<ExportParams>, videoId: string, row: ExportedRow): Promise<{ poster: string | null; strip: string | null }> {
  const paths = exportPosterPaths(videoId);
  const root = exportRoot(ctx.params, ctx.runId);
  const stored = await storePosters(ctx, videoId, row.videoPath, row.durationSeconds, { poster: `${root}/${paths.poster}`, strip: `${root}/${paths.strip}` });
  return stored ? paths : { poster: null, strip: null };
}

/** Builds the rows of one shard, writes it, uploads it under export/<run>/data/[<category>/]. */
export async function exportShard(item: ShardItem, ctx: ItemContext<ExportParams>): Promise<Outcome[]> {
  const p = ctx.params;
  const outcomes: Outcome[] = [];
  const rows: ShardRow[] = [];
  const kept: Row[] = [];
  const scratch = join(ctx.tmpDir, `shard-${item.category ?? 'flat'}-${item.shard}`);
  const key = `${exportRoot(p, ctx.runId)}/${shardPath(item)}`;
  const excluded = await readExcludedIds(ctx.store, p.excludeIds);
  const transcripts = withSourceText(item.videos.filter((v) => !excluded.has(v.video_id)), (v) => v.source ?? undefined, { signal: ctx.signal });
  for (const v of item.videos) if (excluded.has(v.video_id)) outcomes.push({ status: 'dropped', reason: OPTED_OUT, row: { video_id: v.video_id, category: categoryOf(v) } });
  try {
    for await (const { entry: v, text } of transcripts) {
      const row = await exportRow(ctx, v, text, scratch);
      if (!row.ok) {
        outcomes.push({ status: 'error', reason: row.reason, row: { video_id: v.video_id, category: categoryOf(v) } });
        continue;
      }
      rows.push(row.value);
      kept.push({
        video_id: v.video_id, ...originalFilenames(v.video_id), category: categoryOf(v), parent_category: v.parent, fine_category: v.fine,
        duration_seconds: row.value.json.duration_seconds, path: key, shard: item.shard, row: rows.length - 1, mp4_bytes: v.bytes,
        ...(await exportPosters(ctx, v.video_id, row.value)),
      });
    }
    if (rows.length) {
      await mkdir(scratch, { recursive: true });
      const local = join(scratch, 'shard.parquet');
      await writeShard(rows, scratch, local, p.rowGroupRows);
      await storage(`uploading ${key}`, () => ctx.store.upload(key, local));
      ctx.count('shards');
      ctx.count('mp4_bytes', kept.reduce((n, r) => n + Number(r.mp4_bytes), 0));
    } else {
      ctx.log.warn(`shard ${key}: no video exported; no file written`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  for (const row of kept) outcomes.push({ status: 'kept', row });
  return outcomes;
}

/** The index's category of a video: its top-level category's folder name (in either layout). */
const categoryOf = (v: Pick<ShardVideo, 'parent'>) => categorySlug(v.parent || 'uncategorized');

/**
 * Export: the kept videos of the previous stage (anomaly) as FineVideo's parquet, one map item per
 * shard, partitioned by top-level category (export/<run>/data/<category>/train-000NN-of-000MM.parquet).
 * Its kept rows are the index (video_id, category, duration, path, shard, row, poster, strip), without video bytes;
 * each video's poster and hover-scrub strip go beside the shards (posters/<id>.jpg, posters/<id>.strip.jpg);
 * the export-card stage writes them as index.parquet beside the card.
 */
export const exportStage: MapStage<ExportParams, ShardItem, Row> = {
  name: 'export',
  kind: 'map',
  description: 'write the dataset as parquet shards (mp4 bytes + json struct) by top-level category',
  params: exportParams,
  image: 'finevideo/stage-export',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  defaultItemsPerChunk: 1,
  itemConcurrency: () => 1,
  // Users count videos, not shards: the error share is failed videos over videos.
  rowsAreItems: true,
  inputColumns: ['video_id'],
  listItems: listShards,
  itemKey: (item) => shardPath(item).slice('data/'.length),
  processItem: exportShard,
};

export { exportCardStage, exportCardParams, renderCard, runFacts, INDEX_COLUMNS, type CardFacts, type ExportCardParams } from './card.js';
export { barChartPng, barChartSvg } from './plot.js';
