import { isVideoId, type GlobalContext, type GlobalStage, type Outcome, type Row } from '@finevideo/core';
import { alignedContentMetadataSchema } from '@finevideo/dataset';
import { alignLayout } from '../align/index.js';
import { AnomalyReport, anomalyParams, judgeAnnotation, scoreErrors, withScoresClamped, type AnomalyParams, type Judged } from './rules.js';

export {
  ANOMALY_RULES, AnomalyReport, RULE_PARAMS, anomalyParams, judgeAnnotation, scoreErrors, withScoresClamped, type AnomalyParams, type AnomalyRule,
  type VideoFacts,
} from './rules.js';

/** The label the annotate stage puts on baseline rows (carried by align). */
const BASELINE_ANNOTATOR = 'baseline annotator';

/** The align stage's columns this stage reads. */
export const ANOMALY_COLUMNS = ['video_id', 'cuts', 'fps', 'frame_count', 'duration_seconds', 'annotator', 'model_end_seconds'] as const;

export interface AnomalyRow extends Row {
  video_id: string;
  scenes: number;
  /** Q&A pairs of the annotation; null when the baseline annotator made it (it writes none: not counted, not 0). */
  qa_pairs: number | null;
  cuts: number;
  /** Every rule the video breaks, comma-separated ("" when none); the drop reason is the first. */
  anomalies: string;
  anomaly_count: number;
  /** What the first broken rule found ("" when none). */
  detail: string;
}

const num = (v: unknown) => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

/** One video: its aligned annotation read and judged; a missing or unreadable one is an error row. */
async function judgeVideo(row: Row, ctx: GlobalContext<AnomalyParams>): Promise<{ outcome: Outcome<AnomalyRow>; verdict?: { videoId: string; judged: Judged } }> {
  const videoId = row.video_id;
  if (!isVideoId(videoId)) return { outcome: { status: 'error', reason: `invalid video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(videoId)?.slice(0, 40)}` } };
  const key = alignLayout(videoId).aligned;
  const text = await ctx.store.getText(key);
  if (text === undefined) return { outcome: { status: 'error', reason: `aligned missing: expected ${key} in storage, got none`, row: { video_id: videoId } } };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { outcome: { status: 'error', reason: `aligned invalid: ${key} is not JSON (${(error as Error).message.slice(0, 120)})`, row: { video_id: videoId } } };
  }
  // Scores are judged on the raw JSON (a rule), then clamped so the schema checks the rest.
  const scores = scoreErrors(raw);
  const parsed = alignedContentMetadataSchema.safeParse(withScoresClamped(raw));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { outcome: { status: 'error', reason: `aligned invalid: ${key} at ${issue.path.join('.') || '(root)'}: ${issue.message.slice(0, 160)}`, row: { video_id: videoId } } };
  }
  const annotation = parsed.data;
  const frameCount = num(row.frame_count);
  const fps = num(row.fps) ?? annotation.fps;
  if (!frameCount || !(fps > 0)) {
    return { outcome: { status: 'error', reason: `alignment figures missing: expected frame_count and fps in the align row, got ${JSON.stringify([row.frame_count, row.fps])}`, row: { video_id: videoId } } };
  }
  const cuts = num(row.cuts) ?? 0;
  const judged = judgeAnnotation(annotation, {
    fps, frameCount, cuts, metadataDuration: num(row.duration_seconds), modelEndSec: num(row.model_end_seconds), baseline: row.annotator === BASELINE_ANNOTATOR,
  }, ctx.params, scores);
  const first = judged.violations[0];
  const out: AnomalyRow = {
    video_id: videoId, scenes: annotation.scenes.length, qa_pairs: row.annotator === BASELINE_ANNOTATOR ? null : annotation.qAndA.length, cuts,
    anomalies: judged.violations.map((v) => v.rule).join(','), anomaly_count: judged.violations.length, detail: first?.detail.slice(0, 300) ?? '',
  };
  for (const v of judged.violations) ctx.count(`anomaly_${v.rule}`);
  return { outcome: first ? { status: 'dropped', reason: `anomaly:${first.rule}`, row: out } : { status: 'kept', row: out }, verdict: { videoId, judged } };
}

/** Applies fn to each item with at most `limit` at once, yielding results in input order. */
async function* mapOrdered<T, R>(items: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncIterable<R> {
  const pending: Promise<R>[] = [];
  for await (const item of items) {
    const next = fn(item);
    // Awaited in order below; this only keeps a later failure from being reported as unhandled first.
    next.catch(() => undefined);
    pending.push(next);
    if (pending.length >= limit) yield await pending.shift()!;
  }
  while (pending.length) yield await pending.shift()!;
}

/**
 * Stage 9, anomaly filtering: a global stage over the align stage's kept rows. Global so that one task
 * writes one report (artifacts/anomalies.json) while rows stream through it: it holds no table, only
 * `concurrency` annotations at once and per-rule counts with a few example ids, so 2,000,000 videos take
 * the same memory as ten. Its work per video is one small read and a few checks (no decoding), far less
 * than align's decode, so one task keeps up with align's many; align (the heavy map stage) stays sharded.
 */
export const anomalyStage: GlobalStage<AnomalyParams, AnomalyRow> = {
  name: 'anomaly',
  kind: 'global',
  description: 'drops inconsistent or implausible aligned annotations by named rules (coverage, early stop, timestamps, scene ids and count, cast, storyline, climax, Q&A, scores, text, placeholders, duration); report artifacts/anomalies.json',
  params: anomalyParams,
  image: 'finevideo/stage-anomaly',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  async *run(ctx) {
    const report = new AnomalyReport(ctx.params);
    for await (const { outcome, verdict } of mapOrdered(ctx.input(ANOMALY_COLUMNS), ctx.params.concurrency, (row) => judgeVideo(row, ctx))) {
      if (verdict) report.add(verdict.videoId, verdict.judged);
      else report.addError();
      yield outcome;
    }
    const summary = report.toJSON();
    await ctx.writeArtifact('anomalies.json', `${JSON.stringify(summary, null, 2)}\n`);
    ctx.log.info(`anomaly: ${summary.dropped} of ${summary.videos} videos dropped (${(summary.anomalyShare * 100).toFixed(2)}%), ${summary.errors} error row(s); report artifacts/anomalies.json`);
  },
};
