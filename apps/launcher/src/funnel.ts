import type { ErrorPolicy, StageStats } from '@finevideo/core';

export interface FunnelRow {
  stage: string;
  chunks?: string;
  stats: StageStats;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

/** The funnel as a plain-text table: rows in, kept, dropped and errors per reason. */
export function formatFunnel(rows: FunnelRow[]): string {
  const header = `${pad('stage', 14)}${rows.some((r) => r.chunks) ? pad('chunks', 16) : ''}${lpad('items', 10)}${lpad('kept', 10)}${lpad('dropped', 10)}${lpad('errors', 8)}  reasons`;
  const lines = rows.map((r) => {
    const reasons = Object.entries(r.stats.reasons)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const counters = Object.entries(r.stats.counters).map(([k, v]) => `${k}=${v}`).join(', ');
    return `${pad(r.stage, 14)}${r.chunks !== undefined ? pad(r.chunks, 16) : ''}${lpad(String(r.stats.items), 10)}${lpad(String(r.stats.kept), 10)}${lpad(String(r.stats.dropped), 10)}${lpad(String(r.stats.errors), 8)}  ${reasons}${counters ? ` [${counters}]` : ''}`;
  });
  return [header, ...lines].join('\n');
}

/** A stage's counts with what the error policy needs. */
export interface StageErrors {
  stage: string;
  stats: StageStats;
  /** Items that ended as error rows (when known; else the error rows, at most the items). */
  failedItems?: number | undefined;
  policy: Pick<ErrorPolicy, 'maxStageShare'>;
}

/** Error rows by reason (class), most frequent first: "llm unauthorized=12, not found=3". */
export function errorReasons(stats: StageStats): string {
  return Object.entries(stats.reasons)
    .filter(([k]) => k.startsWith('error:'))
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.slice('error:'.length)}=${v}`)
    .join(', ');
}

/** The share of a stage's items that ended as error rows (0 when it had none). */
export function errorShare(s: StageErrors): number {
  if (s.stats.items === 0) return 0;
  const failed = s.failedItems ?? Math.min(s.stats.errors, s.stats.items);
  return failed / s.stats.items;
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** One line per stage with error rows: how many, of how many items, and their reasons. */
export function errorLines(stages: StageErrors[]): string[] {
  return stages
    .filter((s) => s.stats.errors > 0)
    .map((s) => `  ${s.stage}: ${s.stats.errors} error row(s), ${percent(errorShare(s))} of ${s.stats.items} items: ${errorReasons(s.stats)}`);
}

/** Stages whose error share passes errorPolicy.maxStageShare, each with a sentence saying so. */
export function errorShareFailures(stages: StageErrors[]): { stage: string; share: number; message: string }[] {
  return stages
    .filter((s) => errorShare(s) > s.policy.maxStageShare)
    .map((s) => {
      const share = errorShare(s);
      return {
        stage: s.stage,
        share,
        message: `stage ${s.stage}: ${percent(share)} of its ${s.stats.items} items ended as error rows, more than its errorPolicy.maxStageShare of ${percent(s.policy.maxStageShare)}, so the run counts as failed (its table is written; see the reasons above)`,
      };
    });
}

/** Plain notes a user must not miss (a stage that ran a baseline instead of a model, what a paid stage cost). */
export function stageNotes(stages: { stage: string; stats: StageStats; plan?: { chunkCount: number } }[]): string[] {
  const notes: string[] = [];
  for (const s of stages) {
    const baseline = s.stats.counters.baseline_items ?? 0;
    if (baseline > 0) notes.push(`note: ${s.stage} used the lexical baseline, not a model, for ${baseline} video${baseline === 1 ? '' : 's'}`);
    const annotatorBaseline = s.stats.counters.baseline_annotator_items ?? 0;
    if (annotatorBaseline > 0) notes.push(`note: ${s.stage} used the baseline annotator, not a model, for ${annotatorBaseline} video${annotatorBaseline === 1 ? '' : 's'} (scenes from detected cuts, title and description from metadata, transcript lines as narrative; what needs a model is left empty)`);
    const cost = costNote(s.stage, s.stats.counters, s.plan?.chunkCount);
    if (cost) notes.push(cost);
  }
  return notes;
}

/** Dollars a paid stage spent (counters annotate_cost_microusd and tokens): total, per video and per chunk. */
export function costNote(stage: string, counters: Record<string, number>, chunks?: number): string | undefined {
  const input = counters.annotate_input_tokens ?? 0;
  const output = counters.annotate_output_tokens ?? 0;
  // Nothing requested: no line, unless paid annotations were reused (a re-run that cost nothing says so).
  if (input + output === 0 && (!counters.annotate_cached || counters.baseline_annotator_items)) return undefined;
  if (input + output === 0) return `cost: ${stage} spent $0: ${counters.annotate_cached} cached annotation(s) reused, nothing requested`;
  const dollars = (counters.annotate_cost_microusd ?? 0) / 1e6;
  const fmt = (d: number) => `$${d < 1 ? d.toFixed(4) : d.toFixed(2)}`;
  const videos = counters.annotate_annotated ?? 0;
  const perVideo = videos ? `, ${fmt(dollars / videos)} per annotated video` : '';
  const perChunk = chunks ? `, ${fmt(dollars / chunks)} per chunk` : '';
  const unpriced = counters.annotate_unpriced_videos ? ` (${counters.annotate_unpriced_videos} videos of a model without a price are not counted: set params.prices)` : '';
  const cached = counters.annotate_cached ? `; ${counters.annotate_cached} cached annotation(s) reused at no cost` : '';
  return `cost: ${stage} spent ${fmt(dollars)} for ${input.toLocaleString('en-US')} input and ${output.toLocaleString('en-US')} output tokens${perVideo}${perChunk}${unpriced}${cached}`;
}

/** A DuckDB one-liner reading only the kept rows of a stage's parts (they hold dropped and error rows too). */
export function readKeptCommand(outDir: string): string {
  const glob = `${outDir.replace(/\/?$/, '/')}*.parquet`.replace(/'/g, "''");
  return `duckdb -c "SELECT * FROM read_parquet('${glob}', union_by_name = true) WHERE status = 'kept'"`;
}
