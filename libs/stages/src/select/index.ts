import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { z } from 'zod';
import type { GlobalStage, Outcome, Row } from '@finevideo/core';
import { runDuckDb, sqlString } from '@finevideo/storage';
import { CandidateTable, reasonOf, selectContent, selectionReport } from './oracle.js';

export {
  CandidateTable, NOT_SELECTED_REASONS, reasonOf, selectContent, selectionReport,
  type Candidate, type NotSelectedReason, type OracleOptions, type OracleResult, type SelectionReport,
} from './oracle.js';

export const selectParams = z.strictObject({
  targetHours: z.number().positive().default(4500),
  /** No cap unless set: the original had none. */
  maxDurationSeconds: z.number().positive().optional(),
  seed: z.number().int().default(42),
  weights: z.strictObject({ comments: z.number().min(0).default(0.2), views: z.number().min(0).default(0.5), likes: z.number().min(0).default(0.3) }).default({ comments: 0.2, views: 0.5, likes: 0.3 }),
  channelPenalty: z.number().min(0).max(1).default(0.1),
  /** Rows the count scaling is taken over: the whole candidate table (as the original) or only eligible videos. */
  scaleOver: z.enum(['table', 'eligible']).default('table'),
});
export type SelectParams = z.infer<typeof selectParams>;

/** The columns select reads from the classified table. */
export const SELECT_COLUMNS = [
  'video_id', 'category', 'top_level', 'channel', 'channel_follower_count', 'duration_seconds', 'view_count', 'like_count', 'comment_count',
] as const;

/** The output part's columns and types: a candidate, its score and its verdict. */
const OUTPUT_COLUMNS = {
  video_id: 'VARCHAR', category: 'VARCHAR', top_level: 'VARCHAR', channel: 'VARCHAR', channel_follower_count: 'BIGINT', duration_seconds: 'DOUBLE',
  view_count: 'BIGINT', like_count: 'BIGINT', comment_count: 'BIGINT', score: 'DOUBLE', status: 'VARCHAR', reason: 'VARCHAR',
} as const;

const num = (v: unknown) => (v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? null : Number(v));

/** Stage 6: content selection over the whole classified table (one task). */
export const selectStage: GlobalStage<SelectParams, Row> = {
  name: 'select',
  kind: 'global',
  description: 'choose videos for a target number of hours with category balance and a channel penalty',
  params: selectParams,
  image: 'finevideo/stage-select',
  resources: { pool: 'cpu', cpu: '1', memory: '2Gi' },
  async *run(ctx) {
    // Rows are held column by column (CandidateTable): 2,000,000 candidates fit in a few hundred MB.
    const table = new CandidateTable();
    const started = performance.now();
    for await (const r of ctx.input(SELECT_COLUMNS)) {
      if (typeof r.video_id !== 'string' || typeof r.category !== 'string') continue;
      table.add({
        video_id: r.video_id, category: r.category, top_level: typeof r.top_level === 'string' ? r.top_level : null, channel: String(r.channel ?? ''),
        channel_follower_count: num(r.channel_follower_count), duration_seconds: num(r.duration_seconds),
        view_count: num(r.view_count), like_count: num(r.like_count), comment_count: num(r.comment_count),
      });
    }
    const read = performance.now();
    const result = selectContent(table, ctx.params);
    const selectedAt = performance.now();
    const report = selectionReport(result);
    await ctx.writeArtifact('report.json', `${JSON.stringify(report, null, 2)}\n`);
    const seconds = (from: number, to: number) => ((to - from) / 1000).toFixed(1);
    ctx.log.info(`selected ${report.videos} of ${table.size} videos, ${report.selectedHours.toFixed(2)} of ${report.targetHours} hours (read in ${seconds(started, read)} s, selected in ${seconds(read, selectedAt)} s)`);
    // Every row with its verdict goes into one parquet part written here (selected first, shortest
    // first, then the others in input order), with explicit column types: 2,000,000 rows as outcomes
    // one by one, then a schema guess over the whole JSON, ran DuckDB out of memory. The rows not
    // selected are counted by reason below (outcomes without a row: they are in the part already).
    const jsonl = join(ctx.tmpDir, 'select.jsonl');
    const out = createWriteStream(jsonl);
    let text = '';
    // Lines are built synchronously and written about 1 MB at a time (no await per row).
    const flush = async () => {
      if (!out.write(text)) await once(out, 'drain');
      text = '';
    };
    const line = (i: number, status: string, reason: string | null) => {
      text += `{${table.jsonFields(i)},"score":${result.scores[i]!},"status":"${status}","reason":${reason === null ? 'null' : `"${reason}"`}}\n`;
      return text.length >= 1 << 20;
    };
    for (const i of result.selected) if (line(i, 'kept', null)) await flush();
    for (let i = 0; i < table.size; i++) {
      const reason = reasonOf(result, i);
      if (reason && line(i, 'dropped', reason)) await flush();
    }
    out.end(text);
    await once(out, 'close');
    const jsonWritten = performance.now();
    const part = join(ctx.tmpDir, 'select.parquet');
    const columns = Object.entries(OUTPUT_COLUMNS).map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`).join(', ');
    await runDuckDb(`COPY (SELECT * FROM read_json(${sqlString(jsonl)}, format = 'newline_delimited', columns = {${columns}})) TO ${sqlString(part)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 8192)`);
    await rm(jsonl, { force: true });
    ctx.log.info(`wrote ${table.size} rows with their verdict in ${seconds(selectedAt, performance.now())} s (parquet ${seconds(jsonWritten, performance.now())} s)`);
    yield { status: 'kept-parquet', path: part, count: result.selected.length } as Outcome;
    for (const [reason, count] of Object.entries(report.notSelected)) yield { status: 'dropped', reason, count } as Outcome;
  },
};
