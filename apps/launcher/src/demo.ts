import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isVideoId, mediaLayout, runLayout, type ObjectStore } from '@finevideo/core';
import { openStore } from '@finevideo/storage';
import { createLogger, createRun, runPipeline, storageEnv, workspaceRoot, LocalExecutor, keptRows } from '@finevideo/runtime';
import { stageByType } from '@finevideo/stages';
import { SOURCE_REF_COLUMNS, sourceRefOf, withSourceText } from '@finevideo/stages/ytcommons';
import { annotationLayout } from '@finevideo/stages/annotate';
import { demoVideoSpec, generateVideo, generateYtCommonsShards, startVideoServer, transcriptVtt, type VideoServer } from '@finevideo/demo';
import { loadPipeline, summarize, type CommandResult, type GlobalOptions } from './commands.js';
import { createProgressReporter } from './progress.js';
import { runRef } from './run-ref.js';

export interface DemoOptions extends GlobalOptions {
  rows?: number;
}

/**
 * Where the demo keeps what it generated once. The version changes when what is generated changes
 * (v2: transcripts of about 1 KB so videos are 20 s to a few minutes; videos as long as their metadata
 * says, with shots, a fade and subtitles), so an older checkout's files are never served as new ones.
 */
const SAMPLE_VERSION = 'v2';

/**
 * A newly generated video replaces what an earlier demo stored of that id (its download, subtitles and
 * annotation): download skips a stored video and annotate reuses a stored annotation, so they would
 * otherwise describe the old file.
 */
async function forgetStoredMedia(store: ObjectStore, id: string): Promise<void> {
  const keys = [annotationLayout(id).annotation, annotationLayout(id).provenance];
  for await (const object of store.list(mediaLayout(id).prefix)) keys.push(object.key);
  for (const key of keys) await store.delete(key);
}

/**
 * The embedded default: a generated YouTube-Commons-like sample, the pipeline of
 * examples/demo.yaml on the local executor, and a loopback server playing YouTube
 * for the download stage (videos generated with ffmpeg on first use).
 */
/** What the run produced, in words: the selection the pipeline ends with today, from select's report. */
async function selectionLines(store: ObjectStore, runId: string, storage: string): Promise<string[]> {
  const key = runLayout(runId).stage('select').artifact('report.json');
  const text = await store.getText(key);
  if (text === undefined) return [];
  const report = JSON.parse(text) as { videos: number; selectedHours: number; targetHours: number; byCategory: Record<string, { videos: number }> };
  const categories = Object.entries(report.byCategory).map(([name, c]) => `${name} ${c.videos}`).join(', ');
  return [
    `result: ${report.videos} videos selected for the dataset, ${report.selectedHours.toFixed(2)} of the ${report.targetHours} target hours (${categories}); report: ${join(storage, key)}`,
  ];
}

/** Where the exported dataset is and how to load it, when the run exported one (export-card wrote its card). */
async function datasetLines(store: ObjectStore, runId: string, storage: string): Promise<string[]> {
  const root = `export/${runId}`;
  // export.json is written last: without it the export is not finished (and publish would refuse it).
  if (!(await store.exists(`${root}/export.json`))) return [];
  const dir = join(storage, root);
  return [
    `dataset: ${dir} (README.md card, data/<category>/train-*.parquet with mp4 + json, index.parquet, categories.png, export.json manifest)`,
    `load it: python -c 'import datasets; ds = datasets.load_dataset("parquet", data_dir="${join(dir, 'data')}", split="train"); print(ds)'`,
    `   or: duckdb -c "SELECT category, count(*) AS videos, sum(duration_seconds) / 3600 AS hours FROM '${join(dir, 'index.parquet')}' GROUP BY ALL"`,
    `publish: HF_TOKEN=... node bin/finevideo.mjs publish ${dir} --repo <namespace>/<name> [--public]  (created private unless --public)`,
  ];
}

/**
 * Makes (once) and serves the video of every id that passed word density: as long as its metadata says,
 * with English subtitles of its transcript. Returns how many videos were made. The demo's sample is a few
 * dozen rows, so their durations are held in a map.
 */
async function serveDemoVideos(store: ObjectStore, runId: string, server: VideoServer, videos: string): Promise<number> {
  const durations = new Map<string, number>();
  for await (const row of keptRows(store, runId, 'worddensity', ['video_id', 'duration_seconds'])) {
    // A malformed id never becomes a file name; the download stage turns it into an error row.
    if (isVideoId(row.video_id)) durations.set(row.video_id, Number(row.duration_seconds));
  }
  let made = 0;
  // Transcripts are read from the sample's shards through ytcommons' references (worddensity keeps none).
  const refs = keptRows(store, runId, 'ytcommons', ['video_id', ...SOURCE_REF_COLUMNS]);
  for await (const { entry: row, text } of withSourceText(refs, sourceRefOf)) {
    const id = row.video_id;
    if (!isVideoId(id)) continue;
    const duration = durations.get(id);
    if (duration === undefined) continue;
    const file = join(videos, `${id}.mp4`);
    if (!existsSync(file)) {
      await generateVideo(file, demoVideoSpec(id, duration));
      await forgetStoredMedia(store, id);
      made++;
    }
    server.addVideo(id, file, { subtitles: transcriptVtt(text ?? '', duration) });
  }
  return made;
}

export async function demoCommand(options: DemoOptions, signal?: AbortSignal): Promise<CommandResult> {
  const root = workspaceRoot();
  const data = join(root, '.data');
  const samples = join(data, 'samples', `ytcommons-${SAMPLE_VERSION}`);
  const log = createLogger({ demo: true }, options.json === true);
  if (!existsSync(samples)) {
    log.info(`generating a YouTube-Commons-like sample in ${samples}`);
    const e = await generateYtCommonsShards(samples, { shards: 3, rowsPerShard: options.rows ?? 12, seed: 2024, averageTextBytes: 1000, corruptShard: true });
    log.info(`sample: ${e.rows} rows in ${e.shards} shards and one corrupt shard`);
  }
  const config = await loadPipeline(join(root, 'examples', 'demo.yaml'));
  const server = await startVideoServer();
  try {
    const stages = config.stages.map((s) => (s.stage === 'download' ? { ...s, params: { ...s.params, sourceUrlTemplate: server.template } } : s));
    const demoConfig = { ...config, storage: resolve(root, config.storage), stages: stages.map((s) => (s.stage === 'ytcommons' ? { ...s, params: { ...s.params, source: samples } } : s)) };
    const store = openStore(demoConfig.storage);
    const manifest = await createRun(demoConfig, store);
    const progress = createProgressReporter(options.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain');
    const executor = new LocalExecutor({ parallelism: 2, retries: 2, store, env: storageEnv(demoConfig) });
    const engine = {
      store, log, executor, resolveStage: stageByType, workerEnv: storageEnv(demoConfig),
      onProgress: (stage: string, p: Parameters<typeof progress.update>[1]) => progress.update(stage, p),
      ...(signal ? { signal } : {}),
    };
    // First the filters; then the videos of the surviving ids are made and served; then the rest.
    const firstPart = await runPipeline(manifest, { ...engine, untilStage: 'worddensity' });
    progress.done();
    const videos = join(data, 'samples', `videos-${SAMPLE_VERSION}`);
    await mkdir(videos, { recursive: true });
    const made = await serveDemoVideos(store, manifest.runId, server, videos);
    if (made) log.info(`generated ${made} demo videos in ${videos}`);
    const outcomes = await runPipeline(manifest, engine);
    progress.done();
    const all = [...firstPart.filter((o) => !outcomes.some((x) => x.stage === o.stage)), ...outcomes];
    // The same end of run as `finevideo run` (funnel, error rows, policy verdict, notes, exit code), plus where the demo put things.
    const summary = summarize(manifest, store, all, options, signal);
    if (options.json) return summary;
    const ref = runRef(store.uri, manifest.runId);
    const lines = [summary.output, ...(await selectionLines(store, manifest.runId, demoConfig.storage)), ...(await datasetLines(store, manifest.runId, demoConfig.storage)),
      `media: ${join(demoConfig.storage, 'media')} (downloaded videos, info JSON, subtitles)`,
      // The launcher needs Node 22; the bootstrap's exec puts the Node it installed first on PATH.
      `inspect: node bin/finevideo.mjs status ${ref}   (or: bash tools/bootstrap.sh exec node bin/finevideo.mjs status ${ref})`,
      `layout: ${runLayout(manifest.runId).root}/<stage>/{chunks,out,done,logs}/ and table.json`,
      // The last line: the page over this run (funnel, dataset, videos), served on 127.0.0.1.
      `explore: node bin/finevideo.mjs explore ${ref}   (then open the printed URL)`,
    ];
    return { exitCode: summary.exitCode, output: lines.join('\n') };
  } finally {
    await server.close();
  }
}
