import { z } from 'zod';
import type { GlobalStage, Outcome, Row } from '@finevideo/core';
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
    for await (const r of ctx.input()) {
      if (typeof r.video_id !== 'string' || typeof r.category !== 'string') continue;
      table.add({
        video_id: r.video_id, category: r.category, top_level: typeof r.top_level === 'string' ? r.top_level : null, channel: String(r.channel ?? ''),
        channel_follower_count: num(r.channel_follower_count), duration_seconds: num(r.duration_seconds),
        view_count: num(r.view_count), like_count: num(r.like_count), comment_count: num(r.comment_count),
      });
    }
    const result = selectContent(table, ctx.params);
    const report = selectionReport(result);
    await ctx.writeArtifact('report.json', `${JSON.stringify(report, null, 2)}\n`);
    ctx.log.info(`selected ${report.videos} videos, ${report.selectedHours.toFixed(2)} of ${report.targetHours} hours`);
    for (const i of result.selected) yield { status: 'kept', row: { ...table.row(i), score: result.scores[i]! } } as Outcome;
    for (let i = 0; i < table.size; i++) {
      const reason = reasonOf(result, i);
      if (reason) yield { status: 'dropped', reason, row: { ...table.row(i) } } as Outcome;
    }
  },
};
