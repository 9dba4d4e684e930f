import { z } from 'zod';
import type { GlobalStage, Outcome, Row } from '@finevideo/core';
import { selectContent, selectionReport, type Candidate } from './oracle.js';

export { selectContent, selectionReport, type Candidate, type OracleOptions, type SelectionReport } from './oracle.js';

export const selectParams = z.strictObject({
  targetHours: z.number().positive().default(4500),
  maxDurationSeconds: z.number().positive().default(600),
  seed: z.number().int().default(42),
  weights: z.strictObject({ comments: z.number().min(0).default(0.2), views: z.number().min(0).default(0.5), likes: z.number().min(0).default(0.3) }).default({ comments: 0.2, views: 0.5, likes: 0.3 }),
  channelPenalty: z.number().min(0).max(1).default(0.1),
});
export type SelectParams = z.infer<typeof selectParams>;

const num = (v: unknown) => (v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v));

/** Stage 6: content selection over the whole classified table (one task). */
export const selectStage: GlobalStage<SelectParams, Row> = {
  name: 'select',
  kind: 'global',
  description: 'choose videos for a target number of hours with category balance and a channel penalty',
  params: selectParams,
  image: 'finevideo/stage-select',
  resources: { pool: 'cpu', cpu: '1', memory: '2Gi' },
  async *run(ctx) {
    const candidates: Candidate[] = [];
    for await (const r of ctx.input()) {
      if (typeof r.video_id !== 'string' || typeof r.category !== 'string') continue;
      candidates.push({
        video_id: r.video_id, category: r.category, top_level: typeof r.top_level === 'string' ? r.top_level : null, channel: String(r.channel ?? ''),
        channel_follower_count: num(r.channel_follower_count), duration_seconds: num(r.duration_seconds),
        view_count: num(r.view_count), like_count: num(r.like_count), comment_count: num(r.comment_count),
      });
    }
    const result = selectContent(candidates, ctx.params);
    const report = selectionReport(result);
    await ctx.writeArtifact('report.json', `${JSON.stringify(report, null, 2)}\n`);
    ctx.log.info(`selected ${report.videos} videos, ${report.selectedHours.toFixed(2)} of ${report.targetHours} hours`);
    for (const s of result.selected) yield { status: 'kept', row: { ...s } } as Outcome;
    for (const c of candidates) {
      const reason = result.notSelected.get(c.video_id);
      if (reason) yield { status: 'dropped', reason, row: { ...c } } as Outcome;
    }
  },
};
