import type { DuckDBValue } from '@duckdb/node-api';
import { plain, sqlString } from '@finevideo/storage';
import { ExplorerDb } from './duckdb.js';
import { RANGE_FIELDS, RANGE_KEYS, maxParam, minParam, type Histogram, type RangeBounds, type RangeField } from './range-fields.js';

/** The filters and order of the video list (the table's page, a video's neighbours, the ids and CSV downloads). */
export type VideoFilter = Omit<VideoQuery, 'page' | 'pageSize'>;

export interface VideoQuery extends RangeBounds {
  page: number;
  pageSize: number;
  q?: string | undefined;
  category?: string | undefined;
  topLevel?: string | undefined;
  channel?: string | undefined;
  status?: string | undefined;
  stage?: string | undefined;
  reason?: string | undefined;
  sort: VideoSort;
  dir: 'asc' | 'desc';
}

/** The columns a video's row shows (pos becomes the stage's name). */
const ROW_COLUMNS = 'video_id, title, channel, duration, category, top_level, pos, status, reason, selected';
/** The copied query's columns: the table's (pos becomes the stage's name), then what the range filters read. */
const VIEW_COLUMNS = `${ROW_COLUMNS}, dynamism, word_density, score, scenes, qa_pairs`;

export const VIDEO_SORTS = ['title', 'channel', 'duration', 'category', 'status', 'stage', 'video_id'] as const;
export type VideoSort = (typeof VIDEO_SORTS)[number];
const SORT_SQL: Record<VideoSort, string> = {
  title: 'title', channel: 'channel', duration: 'duration', category: 'category', status: 'status', stage: 'pos', video_id: 'video_id',
};

/** Bins of a histogram (an integer field with fewer distinct values gets one bin per value). */
const HISTOGRAM_BINS = 24;

/**
 * The explorer's table of videos in DuckDB (one row per video: video_id, pos, status, reason, title,
 * channel, duration, category, top_level, selected, title_lower, and the range fields' columns:
 * dynamism, word_density, score, scenes, qa_pairs) and the queries the pages make of it;
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

  /** A SELECT building the videos table from the files where they are (folder paths or s3:// URLs). */
  abstract sourceSql(): string;

  /**
   * The list as one DuckDB query over those files, for a curator to run elsewhere: the same filters (their
   * values written as SQL literals, escaped), columns and order as the table, every row (no page).
   */
  viewSql(query: VideoFilter): string {
    const { filter, order, values } = this.filterOf(query);
    // One pass: a value that reads like a placeholder ("$2") is never substituted again.
    const where = filter.replace(/\$(\d+)/g, (_, n: string) => {
      const value = values[Number(n) - 1];
      return typeof value === 'number' ? String(value) : sqlString(String(value));
    });
    const stage = `CASE pos ${this.stageNames.map((name, i) => `WHEN ${i} THEN ${sqlString(name)}`).join(' ')} END AS stage`;
    return `-- finevideo explore: ${this.describe().replace(/[\r\n]/g, ' ')}
WITH videos AS (
${this.sourceSql()}
)
SELECT ${VIEW_COLUMNS.replace('pos', stage)}
FROM videos${where ? `\n${where}` : ''}
ORDER BY ${order};
`;
  }

  /** The WHERE and ORDER BY of a query (request values bound, never spliced into the SQL); `omit`: a range filter left out. */
  private filterOf(query: VideoFilter, omit?: RangeField): { filter: string; order: string; values: DuckDBValue[] } {
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
    for (const field of RANGE_KEYS) {
      if (field === omit) continue;
      const { column } = RANGE_FIELDS[field];
      const min = query[minParam(field)];
      const max = query[maxParam(field)];
      if (min !== undefined) bind(`${column} >= ?`, min);
      if (max !== undefined) bind(`${column} <= ?`, max);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = `${SORT_SQL[query.sort]} ${query.dir === 'desc' ? 'DESC' : 'ASC'} NULLS LAST, video_id`;
    return { filter, order, values };
  }

  /** One page of the video table, filtered and sorted in DuckDB. */
  async videos(query: VideoQuery): Promise<{ total: number; rows: Record<string, unknown>[] }> {
    const { filter, order, values } = this.filterOf(query);
    const [count, rows] = await Promise.all([
      this.db.all(`SELECT count(*) AS n FROM videos ${filter}`, values),
      this.db.all(
        `SELECT ${ROW_COLUMNS} FROM videos ${filter} ORDER BY ${order} LIMIT ${query.pageSize} OFFSET ${(query.page - 1) * query.pageSize}`,
        values,
      ),
    ]);
    return { total: Number(count[0]?.n ?? 0), rows: rows.map((r) => this.withStage(r)) };
  }

  /**
   * A field's histogram over the list as the other filters leave it (its own bounds omitted, so the
   * page can draw what widening them would bring back); the bins span the field over every video.
   */
  async histogram(field: RangeField, query: VideoFilter): Promise<Histogram> {
    const { column, integer } = RANGE_FIELDS[field];
    const domain = (await this.db.all(`SELECT min(${column})::DOUBLE AS lo, max(${column})::DOUBLE AS hi FROM videos`))[0];
    const { filter, values } = this.filterOf(query, field);
    const lo = domain?.lo === null || domain?.lo === undefined ? null : Number(domain.lo);
    const hi = domain?.hi === null || domain?.hi === undefined ? null : Number(domain.hi);
    const missingSql = `SELECT count(*) AS n FROM videos ${filter ? `${filter} AND` : 'WHERE'} ${column} IS NULL`;
    const missing = Number((await this.db.all(missingSql, values))[0]?.n ?? 0);
    if (lo === null || hi === null) return { field, min: null, max: null, bins: [], missing };
    const bins = integer && hi - lo + 1 <= HISTOGRAM_BINS ? hi - lo + 1 : hi > lo ? HISTOGRAM_BINS : 1;
    const width = hi > lo ? (integer && bins === hi - lo + 1 ? 1 : (hi - lo) / bins) : 1;
    const at = values.length;
    const counted = await this.db.all(
      `SELECT least(greatest(floor((${column} - $${at + 1}) / $${at + 2}), 0), ${bins - 1})::INTEGER AS bin, count(*) AS videos
         FROM videos ${filter ? `${filter} AND` : 'WHERE'} ${column} IS NOT NULL GROUP BY ALL`,
      [...values, lo, width],
    );
    const byBin = new Map(counted.map((r) => [Number(r.bin), Number(r.videos)]));
    return {
      field, min: lo, max: hi, missing,
      // An integer field's bins of width 1 hold one value each (from = to).
      bins: Array.from({ length: bins }, (_, i) => ({
        from: lo + i * width, to: integer && width === 1 ? lo + i : i === bins - 1 ? hi : lo + (i + 1) * width, videos: byBin.get(i) ?? 0,
      })),
    };
  }

  /** A video's place in the filtered, sorted list and the ids before and after it (undefined when the filter leaves it out). */
  async neighbours(id: string, query: VideoFilter): Promise<{ position: number; total: number; previous: string | null; next: string | null } | undefined> {
    const { filter, order, values } = this.filterOf(query);
    const rows = await this.db.all(
      `WITH listed AS (SELECT video_id, row_number() OVER w AS position, lag(video_id) OVER w AS previous, lead(video_id) OVER w AS next, count(*) OVER () AS total
         FROM videos ${filter} WINDOW w AS (ORDER BY ${order}))
       SELECT position, previous, next, total FROM listed WHERE video_id = $${values.length + 1}`,
      [...values, id],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { position: Number(row.position), total: Number(row.total), previous: (row.previous as string | null) ?? null, next: (row.next as string | null) ?? null };
  }

  /** Every row of the filtered, sorted list, a DuckDB chunk at a time (a whole run's worth never sits in memory). */
  async *eachRow(query: VideoFilter): AsyncGenerator<Record<string, unknown>[]> {
    const { filter, order, values } = this.filterOf(query);
    const connection = await this.db.connect();
    try {
      const result = await connection.stream(`SELECT ${ROW_COLUMNS} FROM videos ${filter} ORDER BY ${order}`, values);
      for await (const chunk of result.yieldRowObjectJs()) yield chunk.map((r) => this.withStage(plain(r) as Record<string, unknown>));
    } finally {
      connection.closeSync();
    }
  }

  private withStage({ pos, ...row }: Record<string, unknown>): Record<string, unknown> {
    return { ...row, stage: this.stageNames[Number(pos)] ?? null };
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
    const rows = await this.db.all(`SELECT ${ROW_COLUMNS} FROM videos WHERE video_id = $1`, [id]);
    return rows[0] ? this.withStage(rows[0]) : undefined;
  }
}
