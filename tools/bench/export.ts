// Peak memory of writing one export shard (mp4 bytes + json struct) at several shard sizes: each size runs
// in a child process of its own, whose peak RSS (getrusage maxrss) is the figure. The goal: <= 1 GB at any
// shard size, because video bytes stream from files into DuckDB's parquet writer and never reach JavaScript.
//   node --import tsx tools/bench/export.ts [--sizes-mb 500,2000] [--video-mb 20] [--row-group-rows 4]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { alignedContentMetadataSchema, originalFilenames, type ExportJson } from '@finevideo/dataset';
import { runDuckDb, sqlString } from '@finevideo/storage';
import { exportDuckDbMemory, writeShard, type ShardRow } from '@finevideo/stages/export';

const { values } = parseArgs({
  options: {
    'sizes-mb': { type: 'string', default: '500,2000' },
    'video-mb': { type: 'string', default: '20' },
    'row-group-rows': { type: 'string', default: '4' },
    child: { type: 'string' },
  },
});
const videoMb = Number(values['video-mb']);
const rowGroupRows = Number(values['row-group-rows']);

function row(i: number, videoPath: string): ShardRow {
  const span = { start_timestamp: '00:00:00.000', end_timestamp: '00:00:10.000' };
  const content_metadata = alignedContentMetadataSchema.parse({
    title: `video ${i}`, description: 'd'.repeat(400), fps: 25, characterList: [{ characterId: 'c1', name: 'n', description: 'x'.repeat(200) }],
    scenes: Array.from({ length: 8 }, (_, s) => ({
      sceneId: s + 1, title: 't', timestamps: span, cast: ['c1'], activities: [{ description: 'a'.repeat(100), timestamp: span }], props: [{ name: 'p', timestamp: span }],
      videoEditingDetails: [{ description: 'cut', timestamps: span }], mood: { description: 'Calm', keyMoments: [] }, narrativeProgression: [{ description: 'n', timestamp: '00:00:01.000' }],
      characterInteraction: [], thematicElements: 'x', contextualRelevance: 'y', dynamismScore: 0.5, audioVisualCorrelation: 0.5,
    })),
    storylines: { description: 's', scenes: [1], climax: { description: 'c', timestamp: '00:00:05.000' } }, qAndA: [{ question: 'q', answer: 'a' }], trimmingSuggestions: [],
  });
  const json: ExportJson = {
    ...originalFilenames(`benchVid${String(i % 1000).padStart(3, '0')}`),
    content_parent_category: 'Education', content_fine_category: 'Lectures', content_metadata, duration_seconds: 280, resolution: '640x360',
    text_to_speech: 'word '.repeat(2000), text_to_speech_word_count: 2000,
    timecoded_text_to_speech: Array.from({ length: 200 }, (_, k) => ({ start: '00:00:00.000', end: '00:00:01.000', text: `segment ${k}` })),
    youtube_title: 't', youtube_description: 'd', youtube_categories: ['Education'], youtube_tags: ['a'], youtube_channel: 'c', youtube_view_count: 1,
    youtube_comment_count: 1, youtube_like_count: 1, youtube_channel_follower_count: 1, youtube_upload_date: '20200101', youtube_age_limit: 0,
  };
  return { videoPath, json };
}

if (values.child) {
  // The child: write one shard from the staged videos, print its figures as JSON.
  const [dir, count] = values.child.split(',') as [string, string];
  const rows = Array.from({ length: Number(count) }, (_, i) => row(i, join(dir, `v${String(i).padStart(5, '0')}.mp4`)));
  const started = performance.now();
  const out = join(dir, 'shard.parquet');
  await writeShard(rows, dir, out, rowGroupRows);
  const seconds = (performance.now() - started) / 1000;
  const groups = await runDuckDb(`SELECT count(DISTINCT row_group_id) AS g, count(*) FILTER (WHERE true) AS c FROM parquet_metadata(${sqlString(out)})`);
  process.stdout.write(`${JSON.stringify({ peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024), seconds, bytes: (await stat(out)).size, rowGroups: Number(groups[0]!.g) })}\n`);
  process.exit(0);
}

console.log(`export shard benchmark: ${videoMb} MB videos, ${rowGroupRows} rows per row group, DuckDB memory limit while writing ${exportDuckDbMemory()}, one thread`);
for (const sizeMb of values['sizes-mb']!.split(',').map(Number)) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-export-'));
  try {
    const count = Math.max(1, Math.round(sizeMb / videoMb));
    // Random bytes: incompressible, like video.
    for (let i = 0; i < count; i++) await writeFile(join(dir, `v${String(i).padStart(5, '0')}.mp4`), randomBytes(videoMb * 1024 * 1024));
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'tools/bench/export.ts', '--child', `${dir},${count}`, '--row-group-rows', String(rowGroupRows)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (child.status !== 0) throw new Error(`bench child for ${sizeMb} MB failed with status ${child.status}`);
    const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { peakRssMB: number; seconds: number; bytes: number; rowGroups: number };
    console.log(`shard ${sizeMb} MB (${count} videos): peak RSS ${r.peakRssMB} MB, ${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s), file ${(r.bytes / 1e6).toFixed(0)} MB, ${r.rowGroups} row groups`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
