import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorClassOf, parsePipelineConfig, runLayout, type DoneMarker, type ObjectStore, type Row, type StageStats } from '@finevideo/core';
import { FileStore, writeParquetRows } from '@finevideo/storage';
import { createRun } from '@finevideo/runtime';
import { generateVideo } from '@finevideo/testing';
import { buildWebAssets, ffmpegCoreDir, type WebAssets } from '../src/build-web.js';
import { openExplorerSource, startExplorer, type ExplorerServer } from '../src/index.js';

/**
 * A small run made for the explorer's tests: four stages (ytcommons, download, classify, select)
 * with real parquet parts, done markers and tables; a fifth (annotate) planned with one of its two
 * chunks done (a run still going); three real videos made by ffmpeg with subtitles; an aligned
 * annotation for one, a model annotation for another; an anomaly report; and enough generated rows
 * (dropped and error) that paging and filters have something to do.
 */
export const RUN_ID = 'explore-test';
/** Three videos with files: 12 s each, scenes at 0-4, 4-8, 8-12 s (three sections: clear cuts). */
export const VIDEO_IDS = ['vidAAAAAAA1', 'vidBBBBBBB2', 'vidCCCCCCC3'] as const;
export const ANNOTATED = VIDEO_IDS[0];
export const MODEL_ANNOTATED = VIDEO_IDS[1];
export const EXTRA_ROWS = 240;

const stats = (rows: Row[]): StageStats => {
  const s: StageStats = { items: rows.length, kept: 0, dropped: 0, errors: 0, reasons: {}, counters: {} };
  for (const r of rows) {
    if (r.status === 'kept') s.kept++;
    else {
      const kind = r.status === 'error' ? 'error' : 'dropped';
      if (kind === 'error') s.errors++;
      else s.dropped++;
      // As the worker counts them: an error by its class (the text before the first ":").
      const reason = kind === 'error' ? errorClassOf(String(r.reason)) : String(r.reason);
      s.reasons[`${kind}:${reason}`] = (s.reasons[`${kind}:${reason}`] ?? 0) + 1;
    }
  }
  return s;
};

/** Extra outcomes a stage counts without writing rows (ytcommons' drops by count), added to its first chunk. */
export interface CountedOnly {
  dropped: Record<string, number>;
}

export async function writeStage(
  store: ObjectStore, stage: string, type: string, chunks: Row[][], done: number = chunks.length, counters: Record<string, number> = {},
  runId: string = RUN_ID, counted?: CountedOnly,
): Promise<void> {
  const layout = runLayout(runId).stage(stage);
  const ranges = chunks.map((c, index) => ({ index, start: 0, end: c.length }));
  await store.put(layout.plan, JSON.stringify({ stage, type, kind: 'map', itemCount: chunks.flat().length, chunkCount: chunks.length, ranges, plannedAt: new Date().toISOString() }));
  const all: StageStats = { items: 0, kept: 0, dropped: 0, errors: 0, reasons: {}, counters: { ...counters } };
  const parts: string[] = [];
  for (const [index, rows] of chunks.entries()) {
    if (index >= done) continue;
    const part = layout.part(index, 0);
    await writeParquetRows(store, part, rows);
    const s = stats(rows);
    if (index === 0) s.counters = { ...counters };
    if (index === 0 && counted) {
      for (const [reason, n] of Object.entries(counted.dropped)) {
        s.items += n;
        s.dropped += n;
        s.reasons[`dropped:${reason}`] = (s.reasons[`dropped:${reason}`] ?? 0) + n;
      }
    }
    const marker: DoneMarker = { stage, index, attempt: 1, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), durationMs: 10, peakRssBytes: 1, stats: s, parts: [part] };
    await store.put(layout.done(index), JSON.stringify(marker));
    parts.push(part);
    all.items += s.items;
    all.kept += s.kept;
    all.dropped += s.dropped;
    all.errors += s.errors;
    for (const [k, v] of Object.entries(s.reasons)) all.reasons[k] = (all.reasons[k] ?? 0) + v;
  }
  if (done === chunks.length) await store.put(layout.table, JSON.stringify({ stage, sealedAt: new Date().toISOString(), stats: all, parts }));
}

/** The word density (words per second) of the i-th ytcommons row: 0 to 3 in steps of 0.5. */
export const wordDensityAt = (i: number): number => (i % 7) / 2;

const generatedId = (i: number) => `gen${String(i).padStart(8, '0')}`;

const VTT = `WEBVTT

00:00:00.500 --> 00:00:03.500
Welcome to the first part.

00:00:04.000 --> 00:00:07.800
Now the second scene begins.

00:00:08.000 --> 00:00:11.500
And this is how it ends.
`;

const span = (a: string, b: string) => ({ start_timestamp: a, end_timestamp: b });
function scene(sceneId: number, start: number, end: number, title: string) {
  const t = (s: number) => `00:00:${String(s).padStart(2, '0')}.000`;
  return {
    sceneId, title, timestamps: span(t(start), t(end)), cast: ['Host'],
    activities: [{ description: `${title}: the host points at the pattern`, timestamp: span(t(start), t(start + 2)) }],
    props: [{ name: 'test pattern', timestamp: span(t(start), t(end)) }],
    videoEditingDetails: [{ description: 'hard cut', timestamps: span(t(start), t(start)) }],
    mood: { description: sceneId === 2 ? 'Curious' : 'Calm', keyMoments: [{ timestamp: t(start + 1), changeDescription: 'colours shift' }] },
    narrativeProgression: [{ description: 'the pattern moves', timestamp: t(start + 1) }],
    characterInteraction: [], thematicElements: 'testing', contextualRelevance: 'a generated clip', dynamismScore: 0.5, audioVisualCorrelation: 0.4,
  };
}

export const ALIGNED = {
  title: 'A generated test video', description: 'Three scenes of lavfi patterns.', fps: 5,
  characterList: [{ characterId: 'c1', name: 'Host', description: 'the voice' }],
  scenes: [scene(1, 0, 4, 'Opening pattern'), scene(2, 4, 8, 'Fractal zoom'), scene(3, 8, 12, 'Colour card')],
  storylines: { description: 'From pattern to colour.', scenes: [1, 2, 3], climax: { description: 'the zoom', timestamp: '00:00:06.000' } },
  qAndA: [
    { question: 'What is shown first?', answer: 'A test pattern.' }, { question: 'What follows?', answer: 'A fractal zoom.' },
    { question: 'How does it end?', answer: 'On a colour card.' }, { question: 'Who speaks?', answer: 'The host.' }, { question: 'What is the mood?', answer: 'Calm, then curious.' },
  ],
  trimmingSuggestions: [],
};

/** Writes the fixture under `root` (a folder) and returns it as a store. */
export async function makeFixture(root: string): Promise<FileStore> {
  const store = new FileStore(root);
  const config = parsePipelineConfig(`name: explore-test
storage: ${JSON.stringify(root)}
executor: { kind: local }
stages:
  - { stage: ytcommons, params: { source: /nowhere } }
  - { stage: download }
  - { stage: classify }
  - { stage: select, params: { targetHours: 0.01 } }
  - { stage: annotate }
`);
  await createRun(config, store, RUN_ID);
  const categories = [['Science Explainers', 'Education'], ['Recipe Videos', 'Lifestyle'], ['Gameplay Tutorials', 'Hobbies & Interests']] as const;
  const real: Row[] = VIDEO_IDS.map((id, i) => ({ video_id: id, title: `Real video ${i + 1} ${['apple', 'banana', 'cherry'][i]}`, channel: `Channel ${i}`, status: 'kept', reason: null }));
  const generated: Row[] = Array.from({ length: EXTRA_ROWS }, (_, i) => ({
    video_id: generatedId(i), title: `Generated clip ${i}`, channel: `Channel ${i % 9}`, status: i % 4 === 0 ? 'dropped' : 'kept', reason: i % 4 === 0 ? 'not-english-original' : null,
  }));
  // ytcommons: one shard's error row (no video id) beside the video rows.
  // What worddensity would add (the range filters' word density), on ytcommons' rows here.
  const withDensity = [...real, ...generated].map((r, i) => ({ ...r, word_density: wordDensityAt(i) }));
  await writeStage(store, 'ytcommons', 'ytcommons', [[...withDensity, { video_id: null, status: 'error', reason: 'unreadable-shard', item_key: 'shard-3' }]]);
  const downloadRows = (rows: Row[]) => rows.map((r, i) => ({
    video_id: r.video_id, bytes: 1000, duration: 12 + (i % 50) * 10, frozen_share: (i % 5) / 10, status: i % 10 === 9 ? 'error' : 'kept', reason: i % 10 === 9 ? 'not-found: HTTP 404' : null,
  }));
  const downloadInput = [...real, ...generated.filter((r) => r.status === 'kept')];
  // Two chunks whose reason columns are stored differently (all null, so JSON; and VARCHAR): the index copes.
  const downloaded = downloadRows(downloadInput);
  const firstChunk = downloaded.slice(0, 3).map((r) => ({ ...r, reason: null }));
  await writeStage(store, 'download', 'download', [firstChunk, downloaded.slice(3)]);
  const classified = downloaded.filter((r) => r.status === 'kept').map((r, i) => ({
    video_id: r.video_id, title: [...real, ...generated].find((x) => x.video_id === r.video_id)!.title, channel: `Channel ${i % 9}`,
    duration_seconds: r.duration, category: categories[i % 3]![0], top_level: categories[i % 3]![1], parent: null, status: 'kept', reason: null,
  }));
  await writeStage(store, 'classify', 'classify', [classified], 1, { prompt_tokens: 1200, completion_tokens: 300 });
  const selected = classified.map((r, i) => ({ ...r, score: 1 - i / 1000, status: i < 6 ? 'kept' : 'dropped', reason: i < 6 ? null : 'not-reached' }));
  await writeStage(store, 'select', 'select', [selected]);
  await store.put(runLayout(RUN_ID).stage('select').artifact('report.json'), JSON.stringify({
    targetHours: 0.01, selectedHours: 0.02, distanceHours: -0.01, videos: 6,
    byCategory: { 'Science Explainers': { videos: 2, hours: 0.007 } }, byTopLevel: { Education: { videos: 2, hours: 0.007 } }, topChannels: [], notSelected: { 'not-reached': selected.length - 6 },
  }));
  // annotate: 2 chunks planned, 1 done: the run is still going.
  const annotated = selected.filter((r) => r.status === 'kept').map((r, i) => ({ video_id: r.video_id, scenes: 3 + (i % 2), qa_pairs: i, status: 'kept', reason: null }));
  await writeStage(store, 'annotate', 'annotate', [annotated.slice(0, 3), annotated.slice(3)], 1, { input_tokens: 52000, output_tokens: 4100, cost_usd: 0.42 });
  await store.put(runLayout(RUN_ID).stage('annotate').artifact('anomalies.json'), JSON.stringify({
    videos: 3, kept: 2, dropped: 1, errors: 0, anomalyShare: 1 / 3,
    rules: {
      qa: { reason: 'anomaly:qa', enabled: true, thresholds: { minQaPairs: 5 }, violations: 1, dropped: 1, skipped: 0, examples: [{ video_id: MODEL_ANNOTATED, detail: '2 Q&A pair(s), expected 5' }] },
      coverage: { reason: 'anomaly:coverage', enabled: true, thresholds: { coverageToleranceSec: 2 }, violations: 0, dropped: 0, skipped: 0, examples: [] },
    },
  }));

  for (const [i, id] of VIDEO_IDS.entries()) {
    const dir = join(root, 'media', id);
    await mkdir(dir, { recursive: true });
    await generateVideo(join(dir, `${id}.mp4`), {
      sections: [{ kind: 'motion', seconds: 4 }, { kind: 'mandelbrot', seconds: 4 }, { kind: 'still', seconds: 4 }], fps: 5, audio: i === 0, gop: 5,
    });
    await writeFile(join(dir, `${id}.en.vtt`), VTT);
  }
  await store.put(`aligned/${ANNOTATED}.json`, JSON.stringify({ content_metadata: ALIGNED, model: 'baseline', versions: { schema: 1 } }));
  const { fps: _fps, ...unaligned } = ALIGNED;
  await store.put(`annotations/${MODEL_ANNOTATED}.json`, JSON.stringify({ ...unaligned, scenes: unaligned.scenes.map((s) => ({ ...s, timestamps: span(String(Number(s.timestamps.start_timestamp.slice(6, 8))), String(Number(s.timestamps.end_timestamp.slice(6, 8)))) })) }));
  return store;
}

/** The fixture served by the explorer (assets built once into the same temporary folder); close() removes everything. */
/** The explorer's web assets built into `dir`/web (with ffmpeg.wasm's core from node_modules). */
export async function webAssetsIn(dir: string): Promise<WebAssets> {
  const assets = { dir: join(dir, 'web'), ffmpegCoreDir: ffmpegCoreDir() };
  await buildWebAssets(join(import.meta.dirname, '..', 'web'), assets.dir);
  return assets;
}

/** The fixture served: its folder, the web assets, the explorer on it, and what stops it and removes the folder. */
export interface ServedFixture {
  dir: string;
  assets: WebAssets;
  server: ExplorerServer;
  close(): Promise<void>;
}

export async function serveFixture(prefix: string): Promise<ServedFixture> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await makeFixture(join(dir, 'store'));
    const assets = await webAssetsIn(dir);
    const server = await startExplorer(await openExplorerSource(join(dir, 'store', 'runs', RUN_ID)), { assets, cacheDir: join(dir, 'cache') });
    return {
      dir, assets, server,
      close: async () => {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Mocha hooks serving the fixture to one describe block: started before its tests, closed after them.
 * Returns the explorer's server (read inside a test or hook, once `before` has run).
 */
export function serveFixtureForSuite(prefix: string): () => ExplorerServer {
  let served: ServedFixture | undefined;
  before(async () => {
    served = await serveFixture(prefix);
  });
  after(async () => served?.close());
  return () => {
    if (!served) throw new Error(`fixture ${prefix}: expected the suite's before hook to have served it, got nothing served`);
    return served.server;
  };
}
