import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyStats, mergeStats, pipelineStages, runLayout, type StageStats } from '@finevideo/core';
import { failedKey, readDoneMarkers, readJsonObject, type FailedChunks, type StagePlan } from '@finevideo/runtime';
import { VideoTable } from './video-table.js';
import { columnAs, groupPartsBySchema, localParts, readGroup, type PartGroup } from './parts.js';
import type { ExplorerSource } from './source-types.js';
import type { CategoryRow, Facets, FunnelHours, StageStateView } from './api-types.js';

export type { CategoryRow, Facets, FunnelHours } from './api-types.js';
export { VIDEO_SORTS, type VideoQuery, type VideoSort } from './video-table.js';

/** One stage of the run as the overview shows it: chunks, the funnel from its markers, and its parts. */
export interface StageState extends StageStateView {
  stats: StageStats;
  /** Parquet parts listed by the done markers (storage keys) with what identifies their content. */
  parts: { key: string; version: string }[];
}

/** Columns the index reads from any stage that has them. */
const INDEX_COLUMNS = {
  title: 'VARCHAR', channel: 'VARCHAR',
} as const;

/**
 * What stages measured, as the range filters read them (the latest stage that has a value wins):
 * dynamism = the share of the video that moves (1 - the dynamism stage's frozen_share), word_density
 * (worddensity), score (select), scenes (annotate, align, anomaly), qa_pairs (anomaly).
 */
const MEASURES = ['dynamism', 'word_density', 'score', 'scenes', 'qa_pairs'] as const;

/** The union of no stage's rows (a run before its first part), typed as the index reads them. */
const NO_ROWS = `SELECT NULL::VARCHAR AS video_id, 0 AS pos, NULL::VARCHAR AS status, NULL::VARCHAR AS reason, NULL::VARCHAR AS item, NULL::DOUBLE AS duration, NULL::VARCHAR AS title, NULL::VARCHAR AS channel, NULL::VARCHAR AS category, NULL::VARCHAR AS top_level, ${MEASURES.map((m) => `NULL::DOUBLE AS ${m}`).join(', ')} WHERE false`;

/** One row per video from the stages' rows: attributes from the latest stage that has them, the verdict of the last stage it reached. */
function videosSql(stageRows: string, selectPos: number): string {
  return `SELECT video_id, max(pos) AS pos,
          arg_max(status, pos) AS status, arg_max(reason, pos) AS reason,
          arg_max(title, pos) FILTER (WHERE title IS NOT NULL) AS title,
          arg_max(channel, pos) FILTER (WHERE channel IS NOT NULL) AS channel,
          arg_max(duration, pos) FILTER (WHERE duration IS NOT NULL) AS duration,
          arg_max(category, pos) FILTER (WHERE category IS NOT NULL) AS category,
          arg_max(top_level, pos) FILTER (WHERE top_level IS NOT NULL) AS top_level,
          ${MEASURES.map((m) => `arg_max(${m}, pos) FILTER (WHERE ${m} IS NOT NULL) AS ${m},`).join(' ')}
          bool_or(pos = ${selectPos} AND status = 'kept') AS selected,
          lower(arg_max(title, pos) FILTER (WHERE title IS NOT NULL)) AS title_lower
        FROM ${stageRows} GROUP BY video_id`;
}

/** Rows of a stage that name no video (a shard that could not be read): listed with the item they name. */
export interface ItemError {
  stage: string;
  status: string;
  reason: string | null;
  item: string | null;
}

/** How often the run's markers are read again at most (a running run changes under the page); tests wait it out. */
export const REFRESH_MS = 3000;

/**
 * The run as the explorer sees it: stage states from plans and markers, and a DuckDB index of every
 * video (one row: title, channel, duration, category, the last stage it reached with that stage's
 * verdict) built from the stages' parquet parts, rebuilt when a marker adds or changes parts.
 */
export class RunIndex extends VideoTable {
  private stages: StageState[] = [];
  private groups = new Map<string, PartGroup[]>();
  private signature = '';
  private checkedAt = 0;
  private refreshing: Promise<void> | undefined;
  private funnel: FunnelHours[] = [];
  private facets: Facets = { statuses: [], stages: [], reasons: [], categories: [], topLevels: [], durations: { min: null, max: null } };
  private categories: CategoryRow[] = [];
  private videoCount = 0;
  private itemErrorRows: ItemError[] = [];
  /** The stages' rows read from the parts where they are (folder paths or s3:// URLs), and select's position. */
  private stageRowsAtOrigin = NO_ROWS;
  private selectPos = -1;
  readonly cacheDir: string;
  /** Whether the cache folder is this index's own (made for it, removed on close) or the caller's. */
  private readonly ownsCache: boolean;

  constructor(readonly source: ExplorerSource, cacheDir?: string) {
    super();
    this.ownsCache = cacheDir === undefined;
    this.cacheDir = cacheDir ?? join(tmpdir(), `finevideo-explore-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  describe(): string {
    return `run ${this.source.runId}`;
  }

  get stageNames(): string[] {
    return pipelineStages(this.source.manifest.config).map((s) => s.name);
  }

  /** Reads markers again (at most every few seconds) and rebuilds the index when the parts changed. */
  async refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.checkedAt < REFRESH_MS && this.signature) return;
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const { store, runId, manifest } = this.source;
    const states: StageState[] = [];
    for (const [position, s] of pipelineStages(manifest.config).entries()) {
      const layout = runLayout(runId).stage(s.name);
      const plan = await readJsonObject<StagePlan>(store, layout.plan);
      const done = plan ? await readDoneMarkers(store, runId, s.name, plan) : new Map();
      const stats = emptyStats();
      const parts: StageState['parts'] = [];
      for (const index of [...done.keys()].sort((a, b) => a - b)) {
        const marker = done.get(index)!;
        mergeStats(stats, marker.stats);
        for (const key of marker.parts) parts.push({ key, version: `${marker.attempt}:${marker.finishedAt}` });
      }
      const recorded = plan ? await readJsonObject<FailedChunks>(store, failedKey(runId, s.name)) : undefined;
      const failed = new Set((recorded?.failed ?? []).map((f) => f.index).filter((i) => !done.has(i))).size;
      const chunks = plan?.chunkCount ?? 0;
      states.push({
        stage: s.name, type: s.stage, position, planned: plan !== undefined, chunks, done: done.size, failed,
        pending: Math.max(0, chunks - done.size - failed), sealed: plan ? await store.exists(layout.table) : false, stats, parts,
        runLevel: this.stages.find((x) => x.stage === s.name)?.runLevel ?? false,
      });
    }
    this.stages = states;
    this.checkedAt = Date.now();
    const signature = JSON.stringify(states.map((s) => s.parts));
    if (signature !== this.signature) {
      await this.rebuild(states);
      this.signature = signature;
    }
  }

  stageStates(): StageState[] {
    return this.stages;
  }

  private async rebuild(states: StageState[]): Promise<void> {
    const groups = new Map<string, PartGroup[]>();
    const selects: string[] = [];
    const origins = new Map<string, string>();
    for (const s of states) {
      const files = await localParts(this.source.store, s.parts, join(this.cacheDir, 'parts'), origins);
      const stageGroups = await groupPartsBySchema(this.db, files);
      groups.set(s.stage, stageGroups);
      // A stage whose rows name no video (export-card's one row for the dataset) is about the run, not its videos.
      s.runLevel = stageGroups.length > 0 && stageGroups.every((g) => g.kinds.video_id === undefined);
      for (const g of stageGroups) selects.push(stageRowsSql(g, s.position));
    }
    this.groups = groups;
    const selectPos = states.find((s) => s.type === 'select')?.position ?? -1;
    this.stageRowsAtOrigin = [...groups.values()].flat().length
      ? states.flatMap((s) => (groups.get(s.stage) ?? []).map((g) => stageRowsSql(g, s.position, (f) => origins.get(f) ?? f))).join('\n  UNION ALL BY NAME ')
      : NO_ROWS;
    this.selectPos = selectPos;
    const rows = selects.length ? selects.join(' UNION ALL BY NAME ') : NO_ROWS;
    await this.db.withConnection(async (c) => {
      await c.run(`CREATE OR REPLACE TEMP TABLE all_rows AS ${rows}`);
      const unnamed = await c.runAndReadAll(`SELECT pos, status, reason, item FROM all_rows
        WHERE status <> 'kept' AND (video_id IS NULL OR NOT regexp_full_match(video_id, '[A-Za-z0-9_-]{11}')) ORDER BY pos, item LIMIT 200`);
      this.itemErrorRows = unnamed.getRowObjectsJS().map((r) => ({
        stage: states[Number(r.pos)]?.stage ?? String(r.pos), status: String(r.status), reason: r.reason === null ? null : String(r.reason), item: r.item === null ? null : String(r.item),
      }));
      await c.run(`CREATE OR REPLACE TEMP TABLE stage_rows AS SELECT * FROM all_rows WHERE regexp_full_match(video_id, '[A-Za-z0-9_-]{11}')`);
      await c.run('DROP TABLE all_rows');
      // One row per video: attributes from the latest stage that has them, the verdict of the last stage it reached.
      await c.run(`CREATE OR REPLACE TABLE videos AS ${videosSql('stage_rows', selectPos)}`);
      const funnel = await c.runAndReadAll(`SELECT r.pos, r.status, r.reason, count(*) AS videos, coalesce(sum(v.duration), 0) / 3600 AS hours
        FROM stage_rows r LEFT JOIN videos v USING (video_id) GROUP BY ALL ORDER BY r.pos, r.status, videos DESC`);
      this.funnel = funnel.getRowObjectsJS().map((r) => ({
        stage: states[Number(r.pos)]?.stage ?? String(r.pos), status: String(r.status), reason: r.reason === null ? null : String(r.reason),
        videos: Number(r.videos), hours: Number(r.hours),
      }));
      await c.run('DROP TABLE stage_rows');
    });
    const [statuses, stages, reasons, categories, topLevels, durations, perCategory, count] = await Promise.all([
      this.db.all('SELECT status AS value, count(*) AS videos FROM videos GROUP BY ALL ORDER BY videos DESC'),
      this.db.all('SELECT pos, count(*) AS videos FROM videos GROUP BY ALL ORDER BY pos'),
      this.db.all('SELECT pos, status, reason AS value, count(*) AS videos FROM videos WHERE reason IS NOT NULL GROUP BY ALL ORDER BY videos DESC LIMIT 200'),
      this.db.all('SELECT category AS value, any_value(top_level) AS top_level, count(*) AS videos FROM videos WHERE category IS NOT NULL GROUP BY ALL ORDER BY value'),
      this.db.all('SELECT top_level AS value, count(*) AS videos FROM videos WHERE top_level IS NOT NULL GROUP BY ALL ORDER BY value'),
      this.db.all('SELECT min(duration) AS min, max(duration) AS max FROM videos'),
      this.db.all(`SELECT category, any_value(top_level) AS top_level, count(*) AS candidates, coalesce(sum(duration), 0) / 3600 AS candidate_hours,
          count(*) FILTER (WHERE selected) AS selected, coalesce(sum(duration) FILTER (WHERE selected), 0) / 3600 AS selected_hours
        FROM videos WHERE category IS NOT NULL GROUP BY ALL ORDER BY category`),
      this.db.all('SELECT count(*) AS n FROM videos'),
    ]);
    const stageName = (pos: unknown) => states[Number(pos)]?.stage ?? String(pos);
    this.facets = {
      statuses: statuses.map((r) => ({ value: String(r.value), videos: Number(r.videos) })),
      stages: stages.map((r) => ({ value: stageName(r.pos), videos: Number(r.videos) })),
      reasons: reasons.map((r) => ({ stage: stageName(r.pos), status: String(r.status), value: String(r.value), videos: Number(r.videos) })),
      categories: categories.map((r) => ({ value: String(r.value), topLevel: r.top_level === null ? null : String(r.top_level), videos: Number(r.videos) })),
      topLevels: topLevels.map((r) => ({ value: String(r.value), videos: Number(r.videos) })),
      durations: { min: durations[0]?.min === null ? null : Number(durations[0]?.min), max: durations[0]?.max === null ? null : Number(durations[0]?.max) },
    };
    this.categories = perCategory.map((r) => ({
      category: String(r.category), topLevel: r.top_level === null ? null : String(r.top_level),
      candidates: Number(r.candidates), candidateHours: Number(r.candidate_hours), selected: Number(r.selected), selectedHours: Number(r.selected_hours),
    }));
    this.videoCount = Number(count[0]?.n ?? 0);
    this.version++;
  }

  /** The videos table as one query over the run's parts where they are (the page's "copy as DuckDB query"). */
  sourceSql(): string {
    return `WITH stage_rows AS (SELECT * FROM (${this.stageRowsAtOrigin}) WHERE regexp_full_match(video_id, '[A-Za-z0-9_-]{11}'))
${videosSql('stage_rows', this.selectPos)}`;
  }

  /** Rows that name no video (an unreadable shard's error row), with the item each names. */
  itemErrors(): ItemError[] {
    return this.itemErrorRows;
  }

  funnelHours(): FunnelHours[] {
    return this.funnel;
  }

  facetValues(): Facets {
    return this.facets;
  }

  categoryRows(): CategoryRow[] {
    return this.categories;
  }

  get indexedVideos(): number {
    return this.videoCount;
  }

  /** Every row a stage wrote for the video (its verdict and what the stage measured), long strings cut. */
  async stageRows(id: string): Promise<{ stage: string; runLevel: boolean; rows: Record<string, unknown>[] }[]> {
    const out: { stage: string; runLevel: boolean; rows: Record<string, unknown>[] }[] = [];
    for (const s of this.stages) {
      const rows: Record<string, unknown>[] = [];
      for (const g of this.groups.get(s.stage) ?? []) {
        if (g.kinds.video_id === undefined) continue;
        const found = await this.db.all(`SELECT * FROM ${readGroup(g)} WHERE ${columnAs(g, 'video_id', 'VARCHAR')} = $1 LIMIT 20`, [id]);
        for (const r of found) rows.push(shorten(r));
      }
      out.push({ stage: s.stage, runLevel: s.runLevel, rows });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
    // Parts copied from S3 are this process's; a folder the caller gave is theirs to keep.
    if (this.ownsCache) await rm(this.cacheDir, { recursive: true, force: true });
  }
}

/**
 * One group of a stage's parts as index rows. The category is the taxonomy's fine category wherever a
 * stage names it (export's rows carry fine_category beside their folder slug in `category`), the top
 * level its parent; the item names what a row without a video id was about (the shard of an error row).
 */
function stageRowsSql(g: PartGroup, position: number, origin?: (file: string) => string): string {
  const text = (name: string) => `nullif(${columnAs(g, name, 'VARCHAR')}, '')`;
  const duration = `coalesce(${columnAs(g, 'duration_seconds', 'DOUBLE')}, ${columnAs(g, 'duration', 'DOUBLE')})`;
  const attributes = Object.entries(INDEX_COLUMNS).map(([name, type]) => `${columnAs(g, name, type)} AS ${name}`).join(', ');
  const category = g.kinds.fine_category === undefined ? text('category') : text('fine_category');
  return `SELECT ${columnAs(g, 'video_id', 'VARCHAR')} AS video_id, ${position}::INTEGER AS pos, coalesce(${columnAs(g, 'status', 'VARCHAR')}, 'kept') AS status, ` +
    `${columnAs(g, 'reason', 'VARCHAR')} AS reason, coalesce(${text('item_key')}, ${text('shard')}, ${text('source_shard')}) AS item, ${duration} AS duration, ${attributes}, ` +
    `${category} AS category, coalesce(${text('top_level')}, ${text('parent_category')}) AS top_level, ` +
    `1 - ${columnAs(g, 'frozen_share', 'DOUBLE')} AS dynamism, ${['word_density', 'score', 'scenes', 'qa_pairs'].map((m) => `${columnAs(g, m, 'DOUBLE')} AS ${m}`).join(', ')} ` +
    `FROM ${readGroup(g, origin)}`;
}

/** Long text (descriptions, transcripts, raw model answers) cut for display. */
function shorten(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'string' && v.length > 600) out[k] = `${v.slice(0, 600)}… (${v.length} characters)`;
    else if (Array.isArray(v) && v.length > 50) out[k] = [...v.slice(0, 50), `… ${v.length - 50} more`];
    else out[k] = v;
  }
  return out;
}
