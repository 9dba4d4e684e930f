import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePipelineConfig, runLayout, type Row } from '@finevideo/core';
import { alignedContentMetadataSchema, exportJsonDuckDbType, exportJsonSchema, originalFilenames, type AlignedContentMetadata, type ExportJson } from '@finevideo/dataset';
import { FileStore, runDuckDb, sqlString, writeParquetRows } from '@finevideo/storage';
import { createRun } from '@finevideo/runtime';
import { generateVideo } from '@finevideo/testing';
import { ALIGNED, writeStage } from './fixture.js';

/**
 * A finished run shaped like the demo's, for the numbers the overview must get right: ytcommons with
 * drops it only counts and an unreadable shard's error row naming no video; the baseline annotator;
 * the anomaly stage's report as it writes it; export's rows (folder slug beside the fine category);
 * export-card's one run-level row; and the export folder (index.parquet, one real parquet shard per
 * top-level category with mp4 bytes and the json struct, the card).
 */
export const DONE_RUN = 'explore-done';
/** Two exported videos with files: the first has subtitles, the second only its YouTube-Commons transcript. */
export const DONE_IDS = ['keepAAAAAA1', 'keepBBBBBB2'] as const;
export const NOT_SELECTED = ['dropCCCCCC3', 'dropDDDDDD4'] as const;
export const COUNTED_DROPS = 5;
export const UNREADABLE_SHARD = 'shard-2.parquet';
export const SOURCE_TEXT = 'Hello from the YouTube-Commons transcript of the second video.';

const CATEGORIES: Record<string, { fine: string; top: string; slug: string }> = {
  [DONE_IDS[0]]: { fine: 'Painting Tutorials', top: 'Art & Creativity', slug: 'art_creativity' },
  [DONE_IDS[1]]: { fine: 'Science Explainers', top: 'Education', slug: 'education' },
  [NOT_SELECTED[0]]: { fine: 'Painting Tutorials', top: 'Art & Creativity', slug: 'art_creativity' },
  [NOT_SELECTED[1]]: { fine: 'Recipe Videos', top: 'Lifestyle', slug: 'lifestyle' },
};

/** What the baseline annotator writes: scenes from cuts, metadata text, nothing that needs a model. */
export const BASELINE: AlignedContentMetadata = alignedContentMetadataSchema.parse({
  ...ALIGNED,
  characterList: [],
  scenes: ALIGNED.scenes.map((s) => ({
    ...s, title: '', cast: [], activities: [], props: [], videoEditingDetails: [], mood: { description: '', keyMoments: [] },
    characterInteraction: [], thematicElements: '', contextualRelevance: '', dynamismScore: 0, audioVisualCorrelation: 0,
  })),
  storylines: { description: '', scenes: [], climax: { description: '', timestamp: '' } },
  qAndA: [],
});

/** The anomaly stage's report (artifacts/anomalies.json) for two baseline videos, as AnomalyReport.toJSON writes it. */
const ANOMALY_REPORT = {
  videos: 2, kept: 2, dropped: 0, errors: 0, anomalyShare: 0,
  rules: {
    coverage: { reason: 'anomaly:coverage', enabled: true, thresholds: { coverageToleranceSec: 2 }, violations: 0, dropped: 0, skipped: 0, examples: [] },
    qa: { reason: 'anomaly:qa', enabled: true, thresholds: { minQaPairs: 5 }, violations: 0, dropped: 0, skipped: 2, examples: [] },
    text: { reason: 'anomaly:text', enabled: true, thresholds: { minTextChars: 1 }, violations: 1, dropped: 0, skipped: 0, examples: [{ video_id: DONE_IDS[1], detail: 'the description "" is shorter than 1 character(s)' }] },
    duration: { reason: 'anomaly:duration', enabled: false, thresholds: { durationToleranceSec: 5 }, violations: 0, dropped: 0, skipped: 0, examples: [] },
  },
};

export function exportJson(id: string, meta: AlignedContentMetadata): ExportJson {
  const c = CATEGORIES[id]!;
  return exportJsonSchema.parse({
    ...originalFilenames(id),
    content_parent_category: c.top, content_fine_category: c.fine, content_metadata: meta, duration_seconds: 12, resolution: '320x240',
    text_to_speech: id === DONE_IDS[1] ? SOURCE_TEXT : 'Welcome to the first part.', text_to_speech_word_count: 5,
    timecoded_text_to_speech: id === DONE_IDS[0] ? [{ start: '00:00:00.500', end: '00:00:03.500', text: 'Welcome to the first part.' }] : [],
    youtube_title: `Exported ${c.fine}`, youtube_description: '', youtube_categories: ['Education'], youtube_tags: ['test'], youtube_channel: 'Channel X',
    youtube_view_count: 10, youtube_comment_count: 1, youtube_like_count: 2, youtube_channel_follower_count: 3, youtube_upload_date: '20240101', youtube_age_limit: 0,
  });
}

/** One shard as export writes it: mp4 BLOB and json STRUCT, rows in the listed order. */
export async function writeExportShard(path: string, rows: { mp4: string; json: ExportJson }[], compression = 'snappy'): Promise<void> {
  // Every row names its files (original_video_filename, original_json_filename), as FineVideo's published rows do.
  const type = exportJsonDuckDbType();
  const selects = rows.map((r) => `SELECT content AS mp4, CAST(${sqlString(JSON.stringify(r.json))}::JSON AS ${type}) AS json FROM read_blob(${sqlString(r.mp4)})`);
  await runDuckDb(`COPY (${selects.join(' UNION ALL ')}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION ${compression}, ROW_GROUP_SIZE 4)`);
}

async function writeExportFolder(root: string, rows: Row[]): Promise<void> {
  const exportDir = join(root, 'export', DONE_RUN);
  for (const r of rows) {
    const file = join(exportDir, String(r.path));
    await mkdir(join(file, '..'), { recursive: true });
    const id = String(r.video_id);
    await writeExportShard(file, [{ mp4: join(root, 'media', id, `${id}.mp4`), json: exportJson(id, BASELINE) }]);
  }
  await writeParquetRows(new FileStore(exportDir), 'index.parquet', rows.map((r) => ({ ...r })));
  await writeFile(join(exportDir, 'README.md'), '---\nlicense: cc-by-4.0\n---\n# finevideo-test\n');
}

/** Writes the finished run under `root` (its YouTube-Commons source in `${root}-source`). */
export async function makeCompleteFixture(root: string): Promise<FileStore> {
  const store = new FileStore(root);
  const source = `${root}-source`;
  await mkdir(source, { recursive: true });
  await runDuckDb(`COPY (SELECT * FROM (VALUES ('${DONE_IDS[0]}', 'first transcript'), ('${DONE_IDS[1]}', ${sqlString(SOURCE_TEXT)})) t(video_id, text)) TO ${sqlString(join(source, 'shard-0.parquet'))} (FORMAT parquet)`);
  const config = parsePipelineConfig(`name: explore-done
storage: ${JSON.stringify(root)}
executor: { kind: local }
stages:
  - { stage: ytcommons, params: { source: ${JSON.stringify(source)} } }
  - { stage: classify, params: { method: lexical-baseline } }
  - { stage: select, params: { targetHours: 0.01 } }
  - { stage: annotate, params: { backend: baseline } }
  - { stage: anomaly }
  - { stage: export }
  - { stage: export-card, params: { datasetName: finevideo-test } }
`);
  await createRun(config, store, DONE_RUN);
  const all = [...DONE_IDS, ...NOT_SELECTED];
  const ref = (id: string, i: number) => ({ source_uri: source, source_shard: 'shard-0.parquet', source_row: i, source_size: 1, source_version: null });
  await writeStage(store, 'ytcommons', 'ytcommons', [[
    ...all.map((id, i) => ({ video_id: id, title: `Video ${id}`, channel: 'Channel X', status: 'kept', reason: null, ...ref(id, i) })),
    { video_id: null, item_key: UNREADABLE_SHARD, status: 'error', reason: `unreadable-shard: ${UNREADABLE_SHARD}: Invalid Input Error: not a parquet file` },
  ]], 1, {}, DONE_RUN, { dropped: { 'not-english-original': COUNTED_DROPS } });
  await writeStage(store, 'classify', 'classify', [all.map((id) => ({
    video_id: id, duration_seconds: 12, category: CATEGORIES[id]!.fine, top_level: CATEGORIES[id]!.top, status: 'kept', reason: null,
  }))], 1, {}, DONE_RUN);
  await writeStage(store, 'select', 'select', [all.map((id) => ({ video_id: id, status: DONE_IDS.includes(id as never) ? 'kept' : 'dropped', reason: DONE_IDS.includes(id as never) ? null : 'not-reached' }))], 1, {}, DONE_RUN);
  await store.put(runLayout(DONE_RUN).stage('select').artifact('report.json'), JSON.stringify({
    targetHours: 0.01, selectedHours: 24 / 3600, videos: 2,
    byCategory: { 'Painting Tutorials': { videos: 1, hours: 12 / 3600 }, 'Science Explainers': { videos: 1, hours: 12 / 3600 } }, byTopLevel: {}, notSelected: { 'not-reached': 2 },
  }));
  await writeStage(store, 'annotate', 'annotate', [DONE_IDS.map((id) => ({ video_id: id, annotator: 'baseline annotator', backend: 'baseline', scenes: 3, status: 'kept', reason: null }))], 1, {}, DONE_RUN);
  await writeStage(store, 'anomaly', 'anomaly', [DONE_IDS.map((id) => ({ video_id: id, scenes: 3, cuts: 2, anomalies: '', anomaly_count: 0, detail: '', status: 'kept', reason: null }))], 1, {}, DONE_RUN);
  await store.put(runLayout(DONE_RUN).stage('anomaly').artifact('anomalies.json'), JSON.stringify(ANOMALY_REPORT));
  const exported: Row[] = DONE_IDS.map((id) => {
    const c = CATEGORIES[id]!;
    return {
      video_id: id, category: c.slug, parent_category: c.top, fine_category: c.fine, duration_seconds: 12,
      path: `data/${c.slug}/train-00000-of-00001.parquet`, shard: 0, row: 0, mp4_bytes: 1, status: 'kept', reason: null,
    };
  });
  await writeStage(store, 'export', 'export', [exported], 1, {}, DONE_RUN);
  await writeStage(store, 'export-card', 'export-card', [[{ export_root: `export/${DONE_RUN}`, videos: 2, categories: 2, hours: 24 / 3600, status: 'kept', reason: null }]], 1, {}, DONE_RUN);
  for (const [i, id] of DONE_IDS.entries()) {
    const dir = join(root, 'media', id);
    await mkdir(dir, { recursive: true });
    await generateVideo(join(dir, `${id}.mp4`), { sections: [{ kind: 'motion', seconds: 4 }, { kind: 'mandelbrot', seconds: 4 }, { kind: 'still', seconds: 4 }], fps: 5, audio: false, gop: 5 });
    if (i === 0) await writeFile(join(dir, `${id}.en.vtt`), 'WEBVTT\n\n00:00:00.500 --> 00:00:03.500\nWelcome to the first part.\n');
    await store.put(`aligned/${id}.json`, JSON.stringify({ content_metadata: BASELINE, annotator: 'baseline annotator' }));
    await store.put(`annotations/${id}.provenance.json`, JSON.stringify({ backend: 'baseline', annotator: 'baseline annotator', model: 'none' }));
  }
  await writeExportFolder(root, exported.map(({ status: _s, reason: _r, ...r }) => r));
  return store;
}
