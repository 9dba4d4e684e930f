import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, SystemicError, errorMessage, isVideoId, mediaLayout, type ItemContext, type MapStage, type Outcome, type PlanContext, type Row } from '@finevideo/core';
import { alignedContentMetadataSchema, exportJsonSchema, type ExportJson } from '@finevideo/dataset';
import { parseDuration } from '../worddensity/index.js';
import { sourceRefOf, withSourceText, type SourceRef } from '../ytcommons/source-text.js';
import { writeShard, type ShardRow } from './shard.js';
import { parseVtt } from './vtt.js';

export { exportDuckDbMemory, writeShard, type ShardRow } from './shard.js';
export { parseVtt } from './vtt.js';

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
});
export type ExportParams = z.infer<typeof exportParams>;

/** One video of a shard, with everything the plan joined (the metadata of YouTube-Commons, the category). */
export interface ShardVideo {
  video_id: string;
  fine: string;
  parent: string;
  bytes: number;
  resolution: string | null;
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
  duration_seconds: number | null;
  /** Where the transcript is (the YouTube-Commons shard and row); null: the transcript text below. */
  source: SourceRef | null;
  text: string | null;
}

export interface ShardItem {
  /** The folder name of the top-level category (data/<category>/). */
  category: string;
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

async function* listShards(ctx: PlanContext<ExportParams>): AsyncIterable<ShardItem> {
  const p = ctx.params;
  // Held in memory: the export's videos only (tens of thousands after selection), never the 2M candidates.
  const wanted = new Map<string, Partial<ShardVideo> & { top: string }>();
  for await (const row of ctx.previousRows()) if (isVideoId(row.video_id)) wanted.set(row.video_id, { top: '' });
  if (wanted.size === 0) return;
  const rowsOf = async function* (stage: string, param: string): AsyncIterable<Row> {
    try {
      yield* ctx.stageRows(stage);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`export.params.${param}: ${e.message}`);
      throw e;
    }
  };
  for await (const r of rowsOf(p.categoryStage, 'categoryStage')) {
    const v = typeof r.video_id === 'string' ? wanted.get(r.video_id) : undefined;
    if (!v) continue;
    v.fine = String(r.category ?? '');
    v.parent = String(r.top_level ?? r.parent ?? '');
    v.top = v.parent;
  }
  for await (const m of rowsOf(p.metadataStage, 'metadataStage')) {
    const v = typeof m.video_id === 'string' ? wanted.get(m.video_id) : undefined;
    if (!v) continue;
    Object.assign(v, {
      resolution: typeof m.resolution === 'string' ? m.resolution : null,
      title: String(m.title ?? ''), description: String(m.description ?? ''), categories: texts(m.categories), tags: texts(m.tags),
      channel: String(m.channel ?? ''), view_count: int(m.view_count), comment_count: int(m.comment_count), like_count: int(m.like_count),
      channel_follower_count: int(m.channel_follower_count), upload_date: String(m.upload_date ?? ''), age_limit: int(m.age_limit),
      word_count: m.word_count === null || m.word_count === undefined ? null : int(m.word_count),
      duration_seconds: parseDuration(m.duration_string) ?? null,
      source: typeof m.text === 'string' ? null : (sourceRefOf(m) ?? null), text: typeof m.text === 'string' ? m.text : null,
    } satisfies Partial<ShardVideo>);
  }
  // Category by category, videos by id: a deterministic plan, so a re-plan names the same shards.
  const byCategory = new Map<string, string[]>();
  for (const [id, v] of wanted) {
    const slug = categorySlug(v.top || 'uncategorized');
    let ids = byCategory.get(slug);
    if (!ids) byCategory.set(slug, (ids = []));
    ids.push(id);
  }
  const target = p.shardSizeMB * 1024 * 1024;
  for (const category of [...byCategory.keys()].sort()) {
    const ids = byCategory.get(category)!.sort();
    const shards: ShardVideo[][] = [];
    let current: ShardVideo[] = [];
    let size = 0;
    for (const id of ids) {
      const v = wanted.get(id)!;
      const bytes = await videoBytes(ctx, id);
      if (current.length && size + bytes > target) {
        shards.push(current);
        current = [];
        size = 0;
      }
      const { top: _top, ...rest } = v;
      current.push({
        video_id: id, fine: '', parent: '', resolution: null, title: '', description: '', categories: [], tags: [], channel: '',
        view_count: 0, comment_count: 0, like_count: 0, channel_follower_count: 0, upload_date: '', age_limit: 0, word_count: null,
        duration_seconds: null, source: null, text: null, ...rest, bytes,
      });
      size += bytes;
    }
    if (current.length) shards.push(current);
    for (const [i, videos] of shards.entries()) yield { category, shard: i, of: shards.length, videos };
  }
}

/** The video's own facts from the info JSON download wrote (duration, frame size), when present. */
async function infoOf(ctx: ItemContext<ExportParams>, id: string): Promise<{ duration?: number; resolution?: string }> {
  const text = await ctx.store.getText(mediaLayout(id).info);
  if (!text) return {};
  try {
    const info = JSON.parse(text) as { duration?: unknown; width?: unknown; height?: unknown; resolution?: unknown };
    const out: { duration?: number; resolution?: string } = {};
    if (typeof info.duration === 'number' && Number.isFinite(info.duration)) out.duration = info.duration;
    if (typeof info.width === 'number' && typeof info.height === 'number') out.resolution = `${info.width}x${info.height}`;
    else if (typeof info.resolution === 'string') out.resolution = info.resolution;
    return out;
  } catch {
    return {};
  }
}

/** A storage failure is the machine's (the chunk is retried), never the video's. */
async function storage<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new SystemicError(`storage: ${what}: ${errorMessage(e)}`, 'storage unreachable', true, { cause: e });
  }
}

/** Builds the rows of one shard, writes it, uploads it under export/<run>/data/<category>/. */
export async function exportShard(item: ShardItem, ctx: ItemContext<ExportParams>): Promise<Outcome[]> {
  const p = ctx.params;
  const outcomes: Outcome[] = [];
  const rows: ShardRow[] = [];
  const kept: Row[] = [];
  const scratch = join(ctx.tmpDir, `shard-${item.category}-${item.shard}`);
  const key = `${exportRoot(p, ctx.runId)}/data/${item.category}/${shardName(item.shard, item.of)}`;
  const transcripts = withSourceText(item.videos, (v) => v.source ?? undefined, { signal: ctx.signal });
  try {
    for await (const { entry: v, text } of transcripts) {
      const error = (reason: string) => outcomes.push({ status: 'error', reason, row: { video_id: v.video_id, category: item.category } });
      const ids = mediaLayout(v.video_id);
      const annotationText = await storage(`reading aligned/${v.video_id}.json`, () => ctx.store.getText(`aligned/${v.video_id}.json`));
      if (annotationText === undefined) {
        error(`annotation missing: expected aligned/${v.video_id}.json, got none`);
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(annotationText);
      } catch (e) {
        error(`annotation invalid: aligned/${v.video_id}.json is not JSON: ${errorMessage(e)}`);
        continue;
      }
      const annotation = alignedContentMetadataSchema.safeParse(parsed);
      if (!annotation.success) {
        error(`annotation invalid: aligned/${v.video_id}.json: ${annotation.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        continue;
      }
      let videoPath = ctx.store.localPath(ids.video);
      if (!videoPath || !(await storage(`checking ${ids.video}`, () => ctx.store.exists(ids.video)))) {
        if (videoPath) {
          error(`video missing: expected ${ids.video} in storage, got none`);
          continue;
        }
        // An S3 store: the video is streamed to scratch (disk, not memory), then read by the writer.
        await mkdir(scratch, { recursive: true });
        videoPath = join(scratch, `${v.video_id}.mp4`);
        try {
          await ctx.store.download(ids.video, videoPath);
        } catch (e) {
          if (errorMessage(e).endsWith('got not found')) {
            error(`video missing: expected ${ids.video} in storage, got none`);
            continue;
          }
          throw new SystemicError(`storage download: ${ids.video}: ${errorMessage(e)}`, 'storage unreachable', true, { cause: e });
        }
      }
      const vtt = await storage(`reading ${ids.subtitles}`, () => ctx.store.getText(ids.subtitles));
      const info = await infoOf(ctx, v.video_id);
      const transcript = String(text ?? v.text ?? '');
      const json: ExportJson = {
        content_parent_category: v.parent, content_fine_category: v.fine, content_metadata: annotation.data,
        duration_seconds: Math.round(info.duration ?? v.duration_seconds ?? 0), resolution: info.resolution ?? v.resolution ?? '',
        text_to_speech: transcript, text_to_speech_word_count: v.word_count ?? (transcript.match(/\S+/g)?.length ?? 0),
        timecoded_text_to_speech: vtt ? parseVtt(vtt) : [],
        youtube_title: v.title, youtube_description: v.description, youtube_categories: v.categories, youtube_tags: v.tags,
        youtube_channel: v.channel, youtube_view_count: v.view_count, youtube_comment_count: v.comment_count, youtube_like_count: v.like_count,
        youtube_channel_follower_count: v.channel_follower_count, youtube_upload_date: v.upload_date, youtube_age_limit: v.age_limit,
      };
      // The row is checked against the schema the card is generated from (a bad value is this video's error, not a bad file).
      const checked = exportJsonSchema.safeParse(json);
      if (!checked.success) {
        error(`row invalid: ${checked.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        continue;
      }
      rows.push({ videoPath, json: checked.data });
      kept.push({
        video_id: v.video_id, category: item.category, parent_category: v.parent, fine_category: v.fine, duration_seconds: json.duration_seconds,
        path: key, shard: item.shard, row: rows.length - 1, mp4_bytes: v.bytes,
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
      ctx.log.warn(`shard ${key}: every video failed; no file written`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  for (const row of kept) outcomes.push({ status: 'kept', row });
  return outcomes;
}

/**
 * Export: the kept videos of the previous stage (anomaly) as FineVideo's parquet, one map item per
 * shard, partitioned by top-level category (export/<run>/data/<category>/train-000NN-of-000MM.parquet).
 * Its kept rows are the index (video_id, category, duration, path, shard, row), without video bytes;
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
  inputColumns: ['video_id'],
  listItems: listShards,
  itemKey: (item) => `${item.category}/${shardName(item.shard, item.of)}`,
  processItem: exportShard,
};

export { exportCardStage, exportCardParams, renderCard, runFacts, INDEX_COLUMNS, type CardFacts, type ExportCardParams } from './card.js';
export { barChartPng, barChartSvg } from './plot.js';
