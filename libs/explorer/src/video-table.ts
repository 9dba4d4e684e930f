import type { DuckDBValue } from '@duckdb/node-api';
import { ExplorerDb } from './duckdb.js';

export interface VideoQuery {
  page: number;
  pageSize: number;
  q?: string | undefined;
  category?: string | undefined;
  topLevel?: string | undefined;
  channel?: string | undefined;
  status?: string | undefined;
  stage?: string | undefined;
  reason?: string | undefined;
  minDuration?: number | undefined;
  maxDuration?: number | undefined;
  sort: VideoSort;
  dir: 'asc' | 'desc';
}

export const VIDEO_SORTS = ['title', 'channel', 'duration', 'category', 'status', 'stage', 'video_id'] as const;
export type VideoSort = (typeof VIDEO_SORTS)[number];
const SORT_SQL: Record<VideoSort, string> = {
  title: 'title', channel: 'channel', duration: 'duration', category: 'category', status: 'status', stage: 'pos', video_id: 'video_id',
};

/**
 * The explorer's table of videos in DuckDB (one row per video: video_id, pos, status, reason, title,
 * channel, duration, category, top_level, selected, title_lower) and the queries the pages make of it;
 * a run's index and a standalone dataset's index each build it their own way.
 */
export abstract class VideoTable {
  readonly db = new ExplorerDb();
  /** Bumped each time the videos table is rebuilt (copies of it, such as the SQL box's, follow). */
  version = 0;

  /** The stages a row's `pos` counts (the run's, or the one "export" of a dataset). */
  abstract get stageNames(): string[];

  /** What was opened, for messages ("run <id>", "dataset <folder>"). */
  abstract describe(): string;

  /** One page of the video table, filtered and sorted in DuckDB. */
  async videos(query: VideoQuery): Promise<{ total: number; rows: Record<string, unknown>[] }> {
    const where: string[] = [];
    const values: DuckDBValue[] = [];
    const bind = (sql: string, value: DuckDBValue) => {
      values.push(value);
      where.push(sql.replaceAll('?', `$${values.length}`));
    };
    if (query.q) bind('contains(title_lower, ?)', query.q.toLowerCase());
    if (query.category) bind('category = ?', query.category);
    if (query.topLevel) bind('top_level = ?', query.topLevel);
    if (query.channel) bind('channel = ?', query.channel);
    if (query.status) bind('status = ?', query.status);
    // An error's class (as the funnel counts it) matches its rows' full reasons: "not-found" finds "not-found: HTTP 404".
    if (query.reason) bind("(reason = ? OR starts_with(reason, ? || ':'))", query.reason);
    if (query.stage) {
      const pos = this.stageNames.indexOf(query.stage);
      bind('pos = ?', pos);
    }
    if (query.minDuration !== undefined) bind('duration >= ?', query.minDuration);
    if (query.maxDuration !== undefined) bind('duration <= ?', query.maxDuration);
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = `${SORT_SQL[query.sort]} ${query.dir === 'desc' ? 'DESC' : 'ASC'} NULLS LAST, video_id`;
    const [count, rows] = await Promise.all([
      this.db.all(`SELECT count(*) AS n FROM videos ${filter}`, values),
      this.db.all(
        `SELECT video_id, title, channel, duration, category, top_level, pos, status, reason, selected FROM videos ${filter} ORDER BY ${order} LIMIT ${query.pageSize} OFFSET ${(query.page - 1) * query.pageSize}`,
        values,
      ),
    ]);
    const names = this.stageNames;
    return {
      total: Number(count[0]?.n ?? 0),
      rows: rows.map(({ pos, ...r }) => ({ ...r, stage: names[Number(pos)] ?? null })),
    };
  }

  /** Channels starting with a prefix, most videos first (the channel filter's suggestions). */
  async channels(prefix: string, limit = 20): Promise<{ channel: string; videos: number }[]> {
    const rows = await this.db.all(
      `SELECT channel, count(*) AS videos FROM videos WHERE channel IS NOT NULL AND starts_with(lower(channel), $1) GROUP BY ALL ORDER BY videos DESC, channel LIMIT ${limit}`,
      [prefix.toLowerCase()],
    );
    return rows.map((r) => ({ channel: String(r.channel), videos: Number(r.videos) }));
  }

  /** The index row of one video, or undefined. */
  async video(id: string): Promise<Record<string, unknown> | undefined> {
    const rows = await this.db.all('SELECT video_id, title, channel, duration, category, top_level, pos, status, reason, selected FROM videos WHERE video_id = $1', [id]);
    const row = rows[0];
    if (!row) return undefined;
    const { pos, ...rest } = row;
    return { ...rest, stage: this.stageNames[Number(pos)] ?? null };
  }
}
