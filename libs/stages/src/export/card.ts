import { z } from 'zod';
import { stringify } from 'yaml';
import { runLayout, type GlobalStage, type ObjectStore, type Row, type StageStats } from '@finevideo/core';
import { exportFeatures } from '@finevideo/dataset';
import { runDuckDb, sqlIdent, sqlString, withLocalCopy, writeParquetRows } from '@finevideo/storage';
import { barChartPng, type Bar } from './plot.js';

export const exportCardParams = z.strictObject({
  /** The dataset's name in the card's title and in the loading examples (e.g. "my-org/finevideo-run"). */
  datasetName: z.string().min(1).default('finevideo-export'),
});
export type ExportCardParams = z.infer<typeof exportCardParams>;

/** The columns of the export stage's rows (the index) the card reads. */
export const INDEX_COLUMNS = ['video_id', 'original_json_filename', 'original_video_filename', 'category', 'parent_category', 'fine_category', 'duration_seconds', 'path', 'shard', 'row', 'mp4_bytes'] as const;

export interface FunnelStage {
  name: string;
  type: string;
  items: number;
  kept: number;
  dropped: number;
  errors: number;
  /** Hours of the kept rows, when the stage's rows carry a duration. */
  keptHours: number | null;
  reasons: Record<string, number>;
  /** Counters about money and tokens (cost_usd, prompt_tokens...). */
  costCounters: Record<string, number>;
}

export interface CategoryTotals {
  category: string;
  videos: number;
  hours: number;
  bytes: number;
  shards: number;
}

export interface Backend {
  stage: string;
  type: string;
  /** A column (backend, method, model) and its values with counts. */
  column: string;
  values: Record<string, number>;
}

export interface CardFacts {
  datasetName: string;
  runId: string;
  funnel: FunnelStage[];
  categories: CategoryTotals[];
  backends: Backend[];
  /** Rows the export stage did not write, by reason. */
  notExported: Record<string, number>;
  plotFile: string;
}

const hours = (seconds: number) => seconds / 3600;
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const BASELINE = /baseline|lexical|fake|stub/i;

function sizeCategory(n: number): string {
  if (n < 1_000) return 'n<1K';
  if (n < 10_000) return '1K<n<10K';
  if (n < 100_000) return '10K<n<100K';
  if (n < 1_000_000) return '100K<n<1M';
  return '1M<n<10M';
}

/** The card: YAML front matter (configs per category, features from the schema) and a body from the run's facts. */
export function renderCard(facts: CardFacts): string {
  const total = facts.categories.reduce((a, c) => ({ videos: a.videos + c.videos, hours: a.hours + c.hours }), { videos: 0, hours: 0 });
  const front = {
    license: 'cc-by-4.0',
    language: ['en'],
    task_categories: ['visual-question-answering', 'video-text-to-text'],
    tags: ['video', 'finevideo'],
    size_categories: [sizeCategory(total.videos)],
    pretty_name: facts.datasetName,
    configs: [
      { config_name: 'default', default: true, data_files: [{ split: 'train', path: 'data/*/*.parquet' }] },
      ...facts.categories.map((c) => ({ config_name: c.category, data_files: [{ split: 'train', path: `data/${c.category}/*.parquet` }] })),
    ],
    dataset_info: { features: exportFeatures() },
  };
  const lines: string[] = [];
  lines.push('---', stringify(front, { lineWidth: 0 }).trimEnd(), '---', '');
  lines.push(`# ${facts.datasetName}`, '');
  lines.push(`A FineVideo-style video dataset made by the finevideo pipeline (run \`${facts.runId}\`): ${total.videos} videos, ${fmt(total.hours)} hours, `
    + 'each row a video (`mp4`, its bytes) and its metadata, transcript and scene-level annotation (`json`), with the field names of '
    + '[HuggingFaceFV/finevideo](https://huggingface.co/datasets/HuggingFaceFV/finevideo). Videos are Creative Commons (CC-BY) YouTube videos from YouTube-Commons; '
    + 'credit each channel (`json.youtube_channel`) when you use them.', '');

  lines.push('## Categories', '', `![videos and hours per category](${facts.plotFile})`, '', '| category | videos | hours | shards |', '|---|---:|---:|---:|');
  for (const c of facts.categories) lines.push(`| ${c.category} | ${c.videos} | ${fmt(c.hours)} | ${c.shards} |`);
  lines.push(`| **total** | ${total.videos} | ${fmt(total.hours)} | ${facts.categories.reduce((n, c) => n + c.shards, 0)} |`, '');

  lines.push('## How it was made: the funnel', '', '| stage | type | items | kept | dropped | errors | kept hours | drop and error reasons |', '|---|---|---:|---:|---:|---:|---:|---|');
  for (const s of facts.funnel) {
    const reasons = Object.entries(s.reasons).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${s.name} | ${s.type} | ${s.items} | ${s.kept} | ${s.dropped} | ${s.errors} | ${s.keptHours === null ? 'n/a' : fmt(s.keptHours)} | ${reasons || '-'} |`);
  }
  const notExported = Object.entries(facts.notExported);
  lines.push('', notExported.length
    ? `Not exported: ${notExported.map(([k, v]) => `${v} (${k})`).join(', ')}.`
    : 'Every video that reached the export was written.', '');

  lines.push('## Models and backends', '');
  if (!facts.backends.length) lines.push('No stage of this run recorded a model or backend.');
  const noted = new Set<string>();
  for (const b of facts.backends) {
    const values = Object.entries(b.values).sort((x, y) => y[1] - x[1]);
    const text = values.map(([k, v]) => `\`${k}\` (${v} videos)`).join(', ');
    lines.push(`- ${b.stage} (${b.type}), ${b.column}: ${text}`);
    for (const [k] of values) {
      if (BASELINE.test(k) && !noted.has(`${b.stage}:${k}`)) {
        noted.add(`${b.stage}:${k}`);
        lines.push(`  - **\`${k}\` is a baseline, not a model**: ${b.type === 'classify' ? 'categories come from matching taxonomy words in the metadata, not from an LLM' : 'these annotations are placeholders made without a vision model'}; do not train on them as if a model had produced them.`);
      }
    }
  }
  lines.push('');

  lines.push('## Cost', '');
  const cost = facts.funnel.filter((s) => Object.keys(s.costCounters).length);
  if (!cost.length) lines.push('No stage of this run recorded tokens or money spent.');
  for (const s of cost) lines.push(`- ${s.name}: ${Object.entries(s.costCounters).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`);
  lines.push('');

  lines.push('## How to load it', '', 'With `datasets` (all categories, or one through its folder or config name):', '', '```python', 'from datasets import load_dataset',
    '', 'ds = load_dataset("parquet", data_dir="data", split="train")  # in a copy of this folder',
    `ds = load_dataset("${facts.datasetName}", split="train", streaming=True)  # once published on the Hub`,
    ...(facts.categories[0] ? [`one = load_dataset("parquet", data_dir="data/${facts.categories[0].category}", split="train")`] : []),
    'row = ds[0]', 'open("video.mp4", "wb").write(row["mp4"])', 'print(row["json"]["content_metadata"]["title"])', '```', '',
    'With DuckDB (metadata without downloading videos: `index.parquet` lists id, category, duration, file and row):', '', '```sql',
    "SELECT category, count(*) AS videos, sum(duration_seconds) / 3600 AS hours FROM 'index.parquet' GROUP BY ALL;",
    "SELECT json.youtube_title, json.content_metadata.title FROM read_parquet('data/*/*.parquet') LIMIT 5;", '```', '');
  lines.push('## License', '', 'CC-BY 4.0, as each source video: keep the attribution (channel, title, YouTube id) with any use.', '');
  return `${lines.join('\n')}`;
}

/** A stage part's duration column as seconds (duration_seconds, duration, or YouTube's "h:mm:ss" duration_string), or undefined. */
function durationExpression(columns: Set<string>): string | undefined {
  if (columns.has('duration_seconds')) return 'TRY_CAST(duration_seconds AS DOUBLE)';
  if (columns.has('duration')) return 'TRY_CAST(duration AS DOUBLE)';
  if (columns.has('duration_string')) {
    return "list_sum(list_transform(string_split(CAST(duration_string AS VARCHAR), ':'), (x, i) -> TRY_CAST(x AS DOUBLE) * pow(60, len(string_split(CAST(duration_string AS VARCHAR), ':')) - i)))";
  }
  return undefined;
}

async function partFacts(store: ObjectStore, parts: readonly string[], backendColumns: readonly string[]): Promise<{ seconds: number | null; backends: Map<string, Record<string, number>> }> {
  let seconds: number | null = null;
  const backends = new Map<string, Record<string, number>>();
  for (const key of parts) {
    await withLocalCopy(store, key, async (path) => {
      const src = `read_parquet(${sqlString(path)})`;
      const columns = new Set((await runDuckDb(`DESCRIBE SELECT * FROM ${src}`)).map((r) => String(r.column_name)));
      const kept = columns.has('status') ? ` WHERE status = 'kept'` : '';
      const duration = durationExpression(columns);
      if (duration) {
        const r = await runDuckDb(`SELECT sum(${duration}) AS s, count(${duration}) AS n FROM ${src}${kept}`);
        // A column without any value (a stage that could not measure it) says nothing about hours.
        if (Number(r[0]?.n ?? 0) > 0) seconds = (seconds ?? 0) + Number(r[0]?.s ?? 0);
      }
      for (const column of backendColumns) {
        if (!columns.has(column)) continue;
        const values = backends.get(column) ?? {};
        for (const r of await runDuckDb(`SELECT CAST(${sqlIdent(column)} AS VARCHAR) AS v, count(*) AS n FROM ${src}${kept} GROUP BY 1`)) {
          if (r.v === null) continue;
          values[String(r.v)] = (values[String(r.v)] ?? 0) + Number(r.n);
        }
        backends.set(column, values);
      }
    });
  }
  return { seconds, backends };
}

const BACKEND_COLUMNS = ['backend', 'method', 'model'];

/** The funnel and the models of every earlier stage of the run, from run.json and their table.json. */
export async function runFacts(store: ObjectStore, runId: string, upTo: string): Promise<{ funnel: FunnelStage[]; backends: Backend[] }> {
  const layout = runLayout(runId);
  const manifest = JSON.parse((await store.getText(layout.runJson)) ?? '{"stages":[]}') as { stages: { name: string; type: string }[] };
  const funnel: FunnelStage[] = [];
  const backends: Backend[] = [];
  for (const s of manifest.stages) {
    if (s.name === upTo) break;
    const text = await store.getText(layout.stage(s.name).table);
    if (!text) continue;
    const table = JSON.parse(text) as { stats: StageStats; parts: string[] };
    const models = s.type === 'classify' || s.type === 'annotate' ? BACKEND_COLUMNS : [];
    const facts = await partFacts(store, table.parts, models);
    const costCounters = Object.fromEntries(Object.entries(table.stats.counters).filter(([k]) => /cost|tokens|usd/i.test(k)));
    funnel.push({
      name: s.name, type: s.type, items: table.stats.items, kept: table.stats.kept, dropped: table.stats.dropped, errors: table.stats.errors,
      keptHours: facts.seconds === null ? null : hours(facts.seconds), reasons: table.stats.reasons, costCounters,
    });
    for (const [column, values] of facts.backends) if (Object.keys(values).length) backends.push({ stage: s.name, type: s.type, column, values });
  }
  return { funnel, backends };
}

/**
 * export-card: after export, one task. Writes index.parquet (the export's rows: id, category, duration,
 * file and row, no video bytes), categories.png and the dataset card README.md at the export root.
 */
export const exportCardStage: GlobalStage<ExportCardParams, Row> = {
  name: 'export-card',
  kind: 'global',
  description: 'write the dataset card (README.md), its category plot and index.parquet at the export root',
  params: exportCardParams,
  image: 'finevideo/stage-export-card',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  async *run(ctx) {
    const totals = new Map<string, CategoryTotals & { shardPaths: Set<string> }>();
    let root: string | undefined;
    async function* indexRows(): AsyncIterable<Row> {
      for await (const r of ctx.input(INDEX_COLUMNS)) {
        const path = String(r.path ?? '');
        const at = path.indexOf('/data/');
        if (at > 0) root ??= path.slice(0, at);
        const category = String(r.category ?? '');
        let t = totals.get(category);
        if (!t) totals.set(category, (t = { category, videos: 0, hours: 0, bytes: 0, shards: 0, shardPaths: new Set() }));
        t.videos++;
        t.hours += hours(Number(r.duration_seconds ?? 0));
        t.bytes += Number(r.mp4_bytes ?? 0);
        t.shardPaths.add(path);
        // Paths in the index are relative to the export root, as a copy of the folder (or the Hub repo) has them.
        yield { ...r, path: at > 0 ? path.slice(at + 1) : path };
      }
    }
    const scratchKey = `${runLayout(ctx.runId).stage(ctx.stageName).root}/artifacts/index.parquet`;
    const { rows } = await writeParquetRows(ctx.store, scratchKey, indexRows());
    if (!root) {
      ctx.log.warn('export-card: the export wrote no rows; no card written');
      yield { status: 'dropped', reason: 'nothing exported', count: 1 };
      return;
    }
    // The index is written beside the data (a copy from the stage's artifacts: the export root holds only the dataset).
    await ctx.store.put(`${root}/index.parquet`, await ctx.store.get(scratchKey));
    const categories = [...totals.values()].sort((a, b) => (a.category < b.category ? -1 : 1)).map(({ shardPaths, ...t }) => ({ ...t, shards: shardPaths.size }));
    const previous = await previousStageName(ctx.store, ctx.runId, ctx.stageName);
    const { funnel, backends } = await runFacts(ctx.store, ctx.runId, ctx.stageName);
    const exportStats = funnel.find((s) => s.name === previous);
    const notExported = Object.fromEntries(Object.entries(exportStats?.reasons ?? {}));
    const plotFile = 'categories.png';
    const bars: Bar[] = categories.map((c) => ({ label: c.category, value: c.hours }));
    await ctx.store.put(`${root}/${plotFile}`, await barChartPng('Hours per category', bars, 'h'));
    const card = renderCard({ datasetName: ctx.params.datasetName, runId: ctx.runId, funnel, categories, backends, notExported, plotFile });
    await ctx.store.put(`${root}/README.md`, card);
    await ctx.writeArtifact('card.md', card);
    ctx.log.info(`dataset card written: ${ctx.store.uri.replace(/\/$/, '')}/${root}/README.md (${rows} videos in ${categories.length} categories)`);
    yield { status: 'kept', row: { export_root: root, export_uri: `${ctx.store.uri.replace(/\/$/, '')}/${root}`, videos: rows, categories: categories.length, hours: categories.reduce((n, c) => n + c.hours, 0) } };
  },
};

async function previousStageName(store: ObjectStore, runId: string, stage: string): Promise<string | undefined> {
  const manifest = JSON.parse((await store.getText(runLayout(runId).runJson)) ?? '{"stages":[]}') as { stages: { name: string }[] };
  const i = manifest.stages.findIndex((s) => s.name === stage);
  return i > 0 ? manifest.stages[i - 1]!.name : undefined;
}
