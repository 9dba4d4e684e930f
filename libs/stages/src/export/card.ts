import { z } from 'zod';
import { stringify } from 'yaml';
import { runLayout, type GlobalStage, type ObjectStore, type Row, type StageStats } from '@finevideo/core';
import { exportFeatures } from '@finevideo/dataset';
import { runDuckDb, sqlIdent, sqlString, withLocalCopy, writeParquetRows } from '@finevideo/storage';
import { barChartPng, type Bar } from './plot.js';
import { EXPORT_MANIFEST, writeExportManifest } from '../export-card/manifest.js';

export const exportCardParams = z.strictObject({
  /** The dataset's name in the card's title and in the loading examples (e.g. "my-org/finevideo-run"). */
  datasetName: z.string().min(1).default('finevideo-export'),
});
export type ExportCardParams = z.infer<typeof exportCardParams>;

/** The columns of the export stage's rows (the index) the card reads. */
export const INDEX_COLUMNS = ['video_id', 'original_json_filename', 'original_video_filename', 'category', 'parent_category', 'fine_category', 'duration_seconds', 'path', 'shard', 'row', 'mp4_bytes', 'poster', 'strip'] as const;

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
  /** When the run was created (ISO date), for the citation. */
  createdAt?: string | undefined;
  /** The export's layout, read from its files: data/<category>/ (a config per category) or data/ (one default config). */
  layout: 'by-category' | 'flat';
  /** The settings of the run's filtering stages (worddensity, dynamism, select, anomaly) as configured; empty: defaults. */
  filterSettings?: { stage: string; type: string; params: Record<string, unknown> }[];
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
    // YouTube's Creative Commons option is CC BY 3.0 (YouTube-Commons keeps only such videos).
    license: 'cc-by-3.0',
    language: ['en'],
    task_categories: ['visual-question-answering', 'video-text-to-text'],
    tags: ['video', 'finevideo'],
    size_categories: [sizeCategory(total.videos)],
    pretty_name: facts.datasetName,
    configs: cardConfigs(facts),
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

  lines.push(...loadSection(facts), ...termsSection(), ...removalSection(), ...limitationsSection(facts), ...citationSection(facts, total.videos));
  return `${lines.join('\n')}`;
}

/** The card's configs: the default (every shard) and, by category, one per category; their globs are the files' own. */
export function cardConfigs(facts: Pick<CardFacts, 'layout' | 'categories'>): { config_name: string; default?: true; data_files: { split: string; path: string }[] }[] {
  if (facts.layout === 'flat') return [{ config_name: 'default', default: true, data_files: [{ split: 'train', path: 'data/*.parquet' }] }];
  return [
    { config_name: 'default', default: true, data_files: [{ split: 'train', path: 'data/*/*.parquet' }] },
    ...facts.categories.map((c) => ({ config_name: c.category, data_files: [{ split: 'train', path: `data/${c.category}/*.parquet` }] })),
  ];
}

function loadSection(facts: CardFacts): string[] {
  const glob = facts.layout === 'flat' ? 'data/*.parquet' : 'data/*/*.parquet';
  const first = facts.layout === 'by-category' ? facts.categories[0] : undefined;
  return ['## How to load it', '', facts.layout === 'flat' ? 'With `datasets` (one default config, FineVideo\'s layout):' : 'With `datasets` (all categories, or one through its folder or config name):', '', '```python', 'from datasets import load_dataset',
    '', 'ds = load_dataset("parquet", data_dir="data", split="train")  # in a copy of this folder',
    `ds = load_dataset("${facts.datasetName}", split="train", streaming=True)  # once published on the Hub`,
    ...(first ? [`one = load_dataset("parquet", data_dir="data/${first.category}", split="train")`] : []),
    'row = next(iter(ds))', 'video_id = row["json"]["original_video_filename"].removesuffix(".mp4")  # the YouTube id', 'open(row["json"]["original_video_filename"], "wb").write(row["mp4"])',
    'print(row["json"]["content_metadata"]["title"], row["json"]["youtube_channel"])', '```', '',
    'With DuckDB (metadata without downloading videos: `index.parquet` lists id, file names, category, duration, file and row):', '', '```sql',
    "SELECT category, count(*) AS videos, sum(duration_seconds) / 3600 AS hours FROM 'index.parquet' GROUP BY ALL;",
    `SELECT json.original_video_filename, json.youtube_channel, json.youtube_title, json.content_metadata.title FROM read_parquet('${glob}') LIMIT 5;`, '```', ''];
}

function termsSection(): string[] {
  return ['## License and terms of use', '',
    'The videos are YouTube videos their creators published under Creative Commons Attribution (CC BY 3.0, YouTube\'s Creative Commons option), '
    + 'as YouTube-Commons lists them; the annotations and metadata are released under the same license.', '',
    '- Attribute every video you use or show: its channel (`json.youtube_channel`), title (`json.youtube_title`) and YouTube id (`json.original_video_filename` without `.mp4`), which every row carries, so a row copied out of its file still names its source.',
    '- The license covers the videos as uploaded; it grants no rights to the people, trademarks or works shown in them. Use the data lawfully and respect the privacy of the people who appear.',
    '- Do not use the data to identify or track people, or to make content that impersonates a creator.',
    '- Creators may ask for their videos to be removed (below); use the latest version of the dataset and drop removed videos from your copies.', ''];
}

function removalSection(): string[] {
  return ['## Removal requests (opt-out)', '',
    'A creator who wants a video left out asks the publisher of this dataset (through the dataset\'s discussion page on the Hub, or its contact) and names the YouTube video id(s). '
    + 'The publisher adds each id to a file in the run\'s storage, one id a line, and exports again with the export stage\'s `excludeIds` param naming that file:', '',
    '```yaml', '- stage: export', '  params: { excludeIds: opt-out/ids.txt }', '```', '',
    'Rows of those ids are left out of every shard and counted in the funnel as `opted-out`; the next published version no longer holds them.', ''];
}

function limitationsSection(facts: CardFacts): string[] {
  // A stage's baseline can show in two columns (backend and method): named once.
  const baselines = [...new Set(facts.backends.flatMap((b) => Object.keys(b.values).filter((k) => BASELINE.test(k)).map((k) => `${b.stage} used \`${k}\``)))];
  const settings = (facts.filterSettings ?? []).map((f) => `${f.stage} (${f.type}): ${Object.keys(f.params).length ? Object.entries(f.params).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ') : 'its defaults'}`);
  return ['## Limitations', '',
    baselines.length
      ? `- Baselines, not models: ${baselines.join('; ')}. Labels or annotations from a baseline are placeholders; do not train on them as if a model had produced them.`
      : '- Every classify and annotate row came from the model named under "Models and backends"; model output can still be wrong.',
    '- The filtering thresholds (word density, freeze detection, selection, anomaly rules) follow FineVideo\'s published pipeline or this run\'s settings; they were not measured against human judgement on this data, so what was dropped or kept is not a measured quality level.'
    + (settings.length ? ` This run's settings: ${settings.join('; ')}.` : ''),
    '- Scene times are aligned to detected cuts; a model that stopped describing part way can still leave the end of a video thinly annotated.',
    '- Transcripts are YouTube\'s (uploaded or automatic captions) and inherit their errors; videos are English-language by their metadata.', ''];
}

function citationSection(facts: CardFacts, videos: number): string[] {
  const year = /^\d{4}/.exec(facts.createdAt ?? '')?.[0];
  const key = `${facts.datasetName.replace(/[^A-Za-z0-9]+/g, '_')}_${facts.runId.replace(/[^A-Za-z0-9]+/g, '_')}`;
  return ['## Citation', '', `This dataset (run \`${facts.runId}\`, ${videos} videos):`, '', '```bibtex', `@misc{${key},`,
    `  title = {${facts.datasetName}: a FineVideo-style video dataset (finevideo pipeline run ${facts.runId})},`,
    ...(year ? [`  year = {${year}},`] : []),
    `  howpublished = {\\url{https://huggingface.co/datasets/${facts.datasetName}}},`,
    `  note = {Run ${facts.runId} of the finevideo pipeline; videos CC BY 3.0 from YouTube-Commons}`, '}', '```', '',
    'and FineVideo, whose method and format it follows:', '', '```bibtex', '@misc{finevideo,',
    '  title = {FineVideo}, author = {Farr{\\\'e}, Miquel and Marafioti, Andi and Tunstall, Lewis and Von Werra, Leandro and Wolf, Thomas},',
    '  year = {2024}, howpublished = {\\url{https://huggingface.co/datasets/HuggingFaceFV/finevideo}}', '}', '```', ''];
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
/** Stages whose thresholds decide what is kept (the card's limitations name their settings). */
const FILTER_STAGES = new Set(['worddensity', 'dynamism', 'select', 'anomaly']);

/** The funnel and the models of every earlier stage of the run, from run.json and their table.json. */
export async function runFacts(store: ObjectStore, runId: string, upTo: string): Promise<{ funnel: FunnelStage[]; backends: Backend[]; createdAt?: string; filterSettings: NonNullable<CardFacts['filterSettings']> }> {
  const layout = runLayout(runId);
  const manifest = JSON.parse((await store.getText(layout.runJson)) ?? '{"stages":[]}') as {
    createdAt?: string; stages: { name: string; type: string }[]; config?: { stages?: { name?: string; stage: string; params?: Record<string, unknown> }[] };
  };
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
  const filterSettings = (manifest.config?.stages ?? []).filter((c) => FILTER_STAGES.has(c.stage)).map((c) => ({ stage: c.name ?? c.stage, type: c.stage, params: c.params ?? {} }));
  return { funnel, backends, createdAt: manifest.createdAt, filterSettings };
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
    // The layout as the files have it: a shard straight under data/ is the flat layout.
    let flat = false;
    async function* indexRows(): AsyncIterable<Row> {
      for await (const r of ctx.input(INDEX_COLUMNS)) {
        const path = String(r.path ?? '');
        const at = path.indexOf('/data/');
        if (at > 0) root ??= path.slice(0, at);
        if (at > 0 && !path.slice(at + '/data/'.length).includes('/')) flat = true;
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
    // An earlier manifest goes first: while the card is rewritten the folder is not a finished export.
    await ctx.store.delete(`${root}/${EXPORT_MANIFEST}`);
    // The index is written beside the data (a copy from the stage's artifacts: the export root holds only the dataset).
    await ctx.store.put(`${root}/index.parquet`, await ctx.store.get(scratchKey));
    const categories = [...totals.values()].sort((a, b) => (a.category < b.category ? -1 : 1)).map(({ shardPaths, ...t }) => ({ ...t, shards: shardPaths.size }));
    const previous = await previousStageName(ctx.store, ctx.runId, ctx.stageName);
    const { funnel, backends, createdAt, filterSettings } = await runFacts(ctx.store, ctx.runId, ctx.stageName);
    const exportStats = funnel.find((s) => s.name === previous);
    const notExported = Object.fromEntries(Object.entries(exportStats?.reasons ?? {}));
    const plotFile = 'categories.png';
    const bars: Bar[] = categories.map((c) => ({ label: c.category, value: c.hours }));
    await ctx.store.put(`${root}/${plotFile}`, await barChartPng('Hours per category', bars, 'h'));
    const card = renderCard({ datasetName: ctx.params.datasetName, runId: ctx.runId, createdAt, layout: flat ? 'flat' : 'by-category', filterSettings, funnel, categories, backends, notExported, plotFile });
    await ctx.store.put(`${root}/README.md`, card);
    await ctx.writeArtifact('card.md', card);
    const manifest = await writeExportManifest(ctx.store, { root, runId: ctx.runId, others: ['index.parquet', plotFile, 'README.md'] });
    ctx.log.info(`export manifest written: ${root}/${EXPORT_MANIFEST} (${manifest.files.length} files)`);
    ctx.log.info(`dataset card written: ${ctx.store.uri.replace(/\/$/, '')}/${root}/README.md (${rows} videos in ${categories.length} categories)`);
    yield { status: 'kept', row: { export_root: root, export_uri: `${ctx.store.uri.replace(/\/$/, '')}/${root}`, videos: rows, categories: categories.length, hours: categories.reduce((n, c) => n + c.hours, 0) } };
  },
};

async function previousStageName(store: ObjectStore, runId: string, stage: string): Promise<string | undefined> {
  const manifest = JSON.parse((await store.getText(runLayout(runId).runJson)) ?? '{"stages":[]}') as { stages: { name: string }[] };
  const i = manifest.stages.findIndex((s) => s.name === stage);
  return i > 0 ? manifest.stages[i - 1]!.name : undefined;
}
