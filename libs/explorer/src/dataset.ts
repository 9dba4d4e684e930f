import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { DuckDBBlobValue } from '@duckdb/node-api';
import { ConfigError } from '@finevideo/core';
import { alignedContentMetadataSchema } from '@finevideo/dataset';
import { sqlString } from '@finevideo/storage';
import type { CategoryRow, Facets, TranscriptCue } from './api-types.js';
import type { ExplorerBackend } from './backend.js';
import { parseVtt } from './artifacts.js';
import type { ByteRange } from './media.js';
import { folderPosters, posterUrl, type PosterSource } from './posters.js';
import { locatePlainCell } from './parquet-cell.js';
import { VideoTable } from './video-table.js';

/**
 * A dataset as people receive it, without its run: an export folder (index.parquet beside
 * data/<category>/train-*.parquet and the card), or FineVideo's flat published layout
 * (data/train-*.parquet, mp4 + json rows, no index, no card). Everything comes from its own parquet.
 */
export interface DatasetFolder {
  root: string;
  layout: 'export' | 'flat';
  /** Shard paths relative to root, sorted (their position numbers synthetic ids). */
  shards: string[];
  card: boolean;
  /** Where the files came from when the folder is a local copy (an s3:// prefix), for queries run elsewhere. */
  origin?: string;
  /** The folder is the explorer's own copy (of an S3 dataset): removed when the index closes. */
  ownsRoot?: boolean;
  /** Where its posters are when not in the folder (an S3 dataset's, fetched on demand); else posters/ in root. */
  posters?: PosterSource;
}

function parquetFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) parquetFiles(path, out);
    else if (e.isFile() && e.name.endsWith('.parquet')) out.push(path);
  }
  return out;
}

/** The folder as a standalone dataset, or undefined when it is not one (no data/ with parquet shards). */
export function detectDatasetFolder(ref: string): DatasetFolder | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) return undefined;
  const root = resolve(ref);
  const data = join(root, 'data');
  if (!statSync(data, { throwIfNoEntry: false })?.isDirectory()) return undefined;
  const shards = parquetFiles(data).map((p) => relative(root, p).split(sep).join('/')).sort();
  if (!shards.length) throw new ConfigError(`explore: ${JSON.stringify(data)} holds no .parquet shards: expected data/train-*.parquet (flat) or data/<category>/train-*.parquet (an export)`);
  return { root, layout: existsSync(join(root, 'index.parquet')) ? 'export' : 'flat', shards, card: existsSync(join(root, 'README.md')) };
}

/** The video id in a file name as FineVideo's rows name them (original_video_filename "<id>.mp4"). */
const ID_FROM_FILENAME = `regexp_extract(json.original_video_filename, '^([A-Za-z0-9_-]{11})\\.', 1)`;

/**
 * The range filters' columns from a shard's json struct (its DuckDB type tells which fields it has): word
 * density = spoken words per second; dynamism = the mean of the scenes' dynamismScore (a dataset carries
 * no dynamism-stage rows); scenes and Q&A pairs counted; no select score.
 */
function datasetMeasures(jsonType: string): string {
  const has = (field: string) => jsonType.includes(`${field} `) || jsonType.includes(`"${field}" `);
  const metadata = has('content_metadata');
  const list = (field: string) => (metadata && has(field) ? `len(json.content_metadata.${field})::DOUBLE` : 'NULL::DOUBLE');
  const density = has('text_to_speech_word_count') && has('duration_seconds')
    ? 'TRY_CAST(json.text_to_speech_word_count AS DOUBLE) / nullif(TRY_CAST(json.duration_seconds AS DOUBLE), 0)' : 'NULL::DOUBLE';
  const dynamism = metadata && has('dynamismScore')
    ? 'list_avg(list_transform(json.content_metadata.scenes, s -> TRY_CAST(s.dynamismScore AS DOUBLE)))' : 'NULL::DOUBLE';
  return `${dynamism} AS dynamism, ${density} AS word_density, NULL::DOUBLE AS score, ${list('scenes')} AS scenes, ${list('qAndA')} AS qa_pairs`;
}

/**
 * The index of a standalone dataset: one DuckDB row per video (id, file, row, title, channel, duration,
 * fine and parent category) read from the shards' json column only (never the mp4 column), joined to
 * index.parquet's ids when there is one.
 */
export class DatasetIndex extends VideoTable {
  private count = 0;
  private facets: Facets = { statuses: [], stages: [], reasons: [], categories: [], topLevels: [], durations: { min: null, max: null } };
  private categories: CategoryRow[] = [];
  readonly cacheDir: string;
  private readonly ownsCache: boolean;

  constructor(readonly folder: DatasetFolder, cacheDir?: string) {
    super();
    this.ownsCache = cacheDir === undefined;
    this.cacheDir = cacheDir ?? join(tmpdir(), `finevideo-explore-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  get stageNames(): string[] {
    return ['export'];
  }

  describe(): string {
    return `dataset ${this.folder.origin ?? this.folder.root}`;
  }

  get indexedVideos(): number {
    return this.count;
  }

  /** How the shards name a video's id and what they measure: read from the first shard by build(). */
  private fileId = 'NULL::VARCHAR';
  private measures = '';

  /**
   * The videos table as one SELECT over the dataset's files under `root` (this folder, or the S3 prefix it
   * was copied from): the json column only, joined to index.parquet's ids when there is one. A video
   * without a usable id of its own gets one from its place: "f" + shard number (4 digits) + row (6).
   */
  private videosSql(root: string): string {
    const files = this.folder.shards.map((s) => sqlString(`${root}/${s}`)).join(', ');
    const exported = this.folder.layout === 'export';
    const fromIndex = exported
      ? `LEFT JOIN (SELECT CAST(video_id AS VARCHAR) AS video_id, ${sqlString(`${root}/`)} || CAST(path AS VARCHAR) AS file, CAST("row" AS BIGINT) AS row FROM read_parquet(${sqlString(`${root}/index.parquet`)})) i USING (file, row)`
      : '';
    const indexId = exported ? 'i.video_id' : 'NULL::VARCHAR';
    return `SELECT coalesce(CASE WHEN regexp_full_match(${indexId}, '[A-Za-z0-9_-]{11}') THEN ${indexId} END, file_id, 'f' || lpad(CAST(shard_no AS VARCHAR), 4, '0') || lpad(CAST(row AS VARCHAR), 6, '0')) AS video_id,
    0 AS pos, 'kept' AS status, NULL::VARCHAR AS reason, title, channel, duration, category, top_level, true AS selected, lower(title) AS title_lower, file, row, dynamism, word_density, score, scenes, qa_pairs
  FROM (SELECT filename AS file, file_row_number AS row, list_position([${files}], filename) - 1 AS shard_no, nullif(${this.fileId}, '') AS file_id,
      json.youtube_title AS title, json.youtube_channel AS channel, TRY_CAST(json.duration_seconds AS DOUBLE) AS duration,
      nullif(json.content_fine_category, '') AS category, nullif(json.content_parent_category, '') AS top_level, ${this.measures}
    FROM read_parquet([${files}], filename = true, file_row_number = true, union_by_name = true)) cells ${fromIndex}`;
  }

  /** The videos table over the files where the dataset is (its S3 prefix when it was opened from S3). */
  sourceSql(): string {
    return this.videosSql(this.folder.origin ?? this.folder.root);
  }

  async refresh(): Promise<void> {
    // A received dataset does not change under the page: built once, by build().
  }

  async build(): Promise<void> {
    const { root, shards } = this.folder;
    const first = sqlString(join(root, shards[0]!));
    const hasFilename = (await this.db.all(`SELECT count(*) AS n FROM parquet_schema(${first}) WHERE name = 'original_video_filename'`))[0]?.n;
    this.fileId = Number(hasFilename) > 0 ? ID_FROM_FILENAME : 'NULL::VARCHAR';
    this.measures = datasetMeasures(String((await this.db.all(`SELECT typeof(json) AS t FROM read_parquet(${first}) LIMIT 1`))[0]?.t ?? ''));
    await this.db.run(`CREATE OR REPLACE TABLE videos AS ${this.videosSql(root)}`);
    const [n, categories, topLevels, durations] = await Promise.all([
      this.db.all('SELECT count(*) AS n FROM videos'),
      this.db.all(`SELECT category, any_value(top_level) AS top_level, count(*) AS videos, coalesce(sum(duration), 0) / 3600 AS hours FROM videos WHERE category IS NOT NULL GROUP BY ALL ORDER BY category`),
      this.db.all('SELECT top_level AS value, count(*) AS videos FROM videos WHERE top_level IS NOT NULL GROUP BY ALL ORDER BY value'),
      this.db.all('SELECT min(duration) AS min, max(duration) AS max FROM videos'),
    ]);
    this.count = Number(n[0]?.n ?? 0);
    this.version++;
    const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
    this.categories = categories.map((r) => ({
      category: String(r.category), topLevel: str(r.top_level), candidates: Number(r.videos), candidateHours: Number(r.hours), selected: Number(r.videos), selectedHours: Number(r.hours),
    }));
    this.facets = {
      statuses: [{ value: 'kept', videos: this.count }], stages: [{ value: 'export', videos: this.count }], reasons: [],
      categories: this.categories.map((c) => ({ value: c.category, topLevel: c.topLevel, videos: c.candidates })),
      topLevels: topLevels.map((r) => ({ value: String(r.value), videos: Number(r.videos) })),
      durations: { min: durations[0]?.min === null ? null : Number(durations[0]?.min), max: durations[0]?.max === null ? null : Number(durations[0]?.max) },
    };
  }

  categoryRows(): CategoryRow[] {
    return this.categories;
  }

  facetValues(): Facets {
    return this.facets;
  }

  /** Where a video's row is: its shard file and row number. */
  async cell(id: string): Promise<{ file: string; row: number } | undefined> {
    const found = (await this.db.all('SELECT file, row FROM videos WHERE video_id = $1 LIMIT 1', [id]))[0];
    return found ? { file: String(found.file), row: Number(found.row) } : undefined;
  }

  async close(): Promise<void> {
    await this.db.close();
    if (this.ownsCache) await rm(this.cacheDir, { recursive: true, force: true });
    if (this.folder.ownsRoot) await rm(this.folder.root, { recursive: true, force: true });
  }
}

/** "HH:MM:SS.mmm" -> seconds, as the export's timecoded transcript writes them. */
function cuesOf(segments: unknown): TranscriptCue[] {
  if (!Array.isArray(segments)) return [];
  const vtt = segments.map((s: { start?: unknown; end?: unknown; text?: unknown }) => `${String(s.start)} --> ${String(s.end)}\n${String(s.text ?? '')}`).join('\n\n');
  return parseVtt(vtt);
}

/** The dataset's backend: video pages from the json cell, videos from the mp4 cell (copied once to a disk cache, never held whole). */
export function datasetBackend(index: DatasetIndex): ExplorerBackend {
  const { folder } = index;
  // Where the dataset is as the user named it (an S3 prefix, not the explorer's temporary copy of it).
  const shownRoot = folder.origin ?? folder.root;
  const extracting = new Map<string, Promise<string>>();
  const poster = folder.posters ?? folderPosters(folder.root);

  /**
   * Where the video's bytes are: in the shard itself when its mp4 pages are uncompressed and PLAIN (served
   * by offset, nothing copied), else the cell copied once into the cache by DuckDB (that row's cell only).
   */
  const cellBytes = async (id: string): Promise<{ file: string; start: number; length: number } | undefined> => {
    const cell = await index.cell(id);
    if (!cell) return undefined;
    const direct = await locatePlainCell(index.db, cell.file, cell.row, 'mp4');
    if (direct) return { file: cell.file, start: direct.offset, length: direct.length };
    const path = await cachedCell(cell);
    return { file: path, start: 0, length: (await stat(path)).size };
  };

  const cachedCell = async (cell: { file: string; row: number }): Promise<string> => {
    const version = (await stat(cell.file)).mtimeMs;
    const path = join(index.cacheDir, 'cells', `${createHash('sha256').update(`${cell.file}\0${cell.row}\0${version}`).digest('hex').slice(0, 32)}.mp4`);
    if (existsSync(path)) return path;
    let pending = extracting.get(path);
    if (!pending) {
      pending = (async () => {
        await mkdir(join(index.cacheDir, 'cells'), { recursive: true });
        const bytes = await index.db.withConnection(async (c) => {
          const reader = await c.runAndReadAll(`SELECT mp4 FROM read_parquet(${sqlString(cell.file)}, file_row_number = true) WHERE file_row_number = $1`, [cell.row]);
          const value = reader.getRows()[0]?.[0];
          return value instanceof DuckDBBlobValue ? value.bytes : undefined;
        });
        if (!bytes) throw new Error(`${relative(folder.root, cell.file)} row ${cell.row}: expected an mp4 cell of bytes, got none`);
        const tmp = `${path}.tmp-${process.pid}`;
        await writeFile(tmp, bytes);
        await rename(tmp, path);
        return path;
      })().finally(() => extracting.delete(path));
      extracting.set(path, pending);
    }
    return pending;
  };

  return {
    index,
    async run() {
      const stats = { items: index.indexedVideos, kept: index.indexedVideos, dropped: 0, errors: 0, reasons: {}, counters: {} };
      const hours = index.categoryRows().reduce((a, c) => a + c.selectedHours, 0);
      const stage = { stage: 'export', type: 'export', position: 0, planned: true, chunks: folder.shards.length, done: folder.shards.length, failed: 0, pending: 0, sealed: true, runLevel: false, stats };
      return {
        kind: 'dataset', layout: folder.layout, runId: basename(shownRoot), ref: shownRoot, given: 'dataset', createdAt: null, name: basename(shownRoot), executor: null,
        complete: true, stages: [stage], funnelHours: [{ stage: 'export', status: 'kept', reason: null, videos: index.indexedVideos, hours }], itemErrors: [],
        headline: { videosSeen: index.indexedVideos, firstStage: null, itemsWithoutVideo: 0, endStage: 'export', endKept: index.indexedVideos, endHours: hours, endIsFinal: true },
        indexedVideos: index.indexedVideos, anomalies: [], reports: [],
        export: { prefix: `${shownRoot}/`, card: folder.card, files: folder.shards.slice(0, 200).map((key) => ({ key, size: statSync(join(folder.root, key)).size })), bytes: folder.shards.reduce((a, k) => a + statSync(join(folder.root, k)).size, 0) },
        refreshedAt: new Date().toISOString(),
      };
    },
    async dataset() {
      return { categories: index.categoryRows(), facets: index.facetValues(), selection: null, selectParams: null };
    },
    async video(id) {
      const row = await index.video(id);
      const cell = await index.cell(id);
      if (!row || !cell) return undefined;
      const found = (await index.db.all(`SELECT to_json(json) AS json FROM read_parquet(${sqlString(cell.file)}, file_row_number = true) WHERE file_row_number = $1`, [cell.row]))[0];
      const json = JSON.parse(String(found?.json ?? '{}')) as Record<string, unknown>;
      const { content_metadata: content, timecoded_text_to_speech: timed, text_to_speech: text, ...rest } = json;
      const check = alignedContentMetadataSchema.safeParse(content);
      const key = `${relative(folder.root, cell.file).split(sep).join('/')} row ${cell.row}`;
      const cues = cuesOf(timed);
      const bytes = await cellBytes(id);
      return {
        id, video: row, annotator: null,
        stages: [{ stage: 'export', runLevel: false, rows: [{ file: relative(folder.root, cell.file).split(sep).join('/'), row: cell.row, ...rest }] }],
        annotation: content && typeof content === 'object'
          ? { source: 'aligned', key, valid: check.success, problems: check.success ? [] : check.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`), contentMetadata: content, provenance: {} }
          : null,
        transcript: cues.length ? cues : null,
        sourceText: cues.length ? null : typeof text === 'string' && text ? text : null,
        media: bytes ? { size: bytes.length, url: `/media/${id}.mp4` } : null,
        poster: (await poster(id, 'poster')) ? posterUrl(id, 'poster') : null,
      };
    },
    async mediaSize(id) {
      return (await cellBytes(id))?.length;
    },
    async mediaRead(id, range: ByteRange | undefined): Promise<Readable> {
      const bytes = await cellBytes(id);
      if (!bytes) throw new Error(`video ${id}: not in ${index.describe()}`);
      const from = range ? range.start : 0;
      const to = range ? range.end : bytes.length - 1;
      return createReadStream(bytes.file, { start: bytes.start + from, end: bytes.start + to });
    },
    describeMissingMedia: (id) => `video ${id}: not in ${index.describe()}`,
    poster,
  };
}
