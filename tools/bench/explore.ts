/**
 * The explorer's queries at 100,000 videos (BENCH_EXPLORE_ROWS to change): a generated run of four stages
 * (ytcommons, download, classify, select) with real parquet parts and markers; prints the time to build
 * the index and of each API call the pages make (first page, a deep page, a title search, filters with a
 * sort, the dataset summary, a video's page, its previous/next in a filtered list, every kept id streamed, the
 * range filters' histograms, a range-filtered page, the copied DuckDB query).
 * Then a standalone export of as many videos (index.parquet and shards with a json struct per row, a poster and strip
 * per video): its index build, first table page and a grid of 60 posters; and a flat-layout shard of
 * about 2 GB (BENCH_EXPLORE_SHARD_MB) served by an explorer in its own process: the first bytes of a video
 * out of the shard and that process's peak RSS. Figures, not assertions.
 *   npm run bench:explore
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig, runLayout, type ObjectStore } from '@finevideo/core';
import { FileStore, runDuckDb, sqlString } from '@finevideo/storage';
import { DEFAULT_POSTER_OPTIONS, ffmpegPath, lastLines, makePosterAndStrip, runProcess } from '@finevideo/media';
import { createRun } from '@finevideo/runtime';
import { buildWebAssets, ffmpegCoreDir } from '../../libs/explorer/src/build-web.js';
import { detectDatasetFolder, openExplorerSource, startDatasetExplorer, startExplorer } from '../../libs/explorer/src/index.js';

const ROWS = Number(process.env.BENCH_EXPLORE_ROWS ?? 100_000);
const CHUNKS = 20;

const id = (expr: string) => `'b' || lpad(CAST(${expr} AS VARCHAR), 10, '0')`;

/** One stage: CHUNKS parts of the rows `select` gives for range [lo, hi), with plan, markers and table. */
async function stage(store: ObjectStore, root: string, name: string, select: (lo: number, hi: number) => string, items: number): Promise<void> {
  const layout = runLayout('bench').stage(name);
  const per = Math.ceil(items / CHUNKS);
  const ranges = Array.from({ length: CHUNKS }, (_, index) => ({ index, start: index * per, end: Math.min(items, (index + 1) * per) }));
  await store.put(layout.plan, JSON.stringify({ stage: name, type: name, kind: 'map', itemCount: items, chunkCount: CHUNKS, ranges, plannedAt: new Date().toISOString() }));
  const parts: string[] = [];
  for (const r of ranges) {
    const part = layout.part(r.index, 0);
    await store.put(part, '');
    await runDuckDb(`COPY (${select(r.start, r.end)}) TO ${sqlString(join(root, part))} (FORMAT parquet)`);
    const stats = { items: r.end - r.start, kept: r.end - r.start, dropped: 0, errors: 0, reasons: {}, counters: {} };
    await store.put(layout.done(r.index), JSON.stringify({ stage: name, index: r.index, attempt: 1, startedAt: '', finishedAt: new Date().toISOString(), durationMs: 1, peakRssBytes: 1, stats, parts: [part] }));
    parts.push(part);
  }
  await store.put(layout.table, JSON.stringify({ stage: name, sealedAt: new Date().toISOString(), stats: { items, kept: items, dropped: 0, errors: 0, reasons: {}, counters: {} }, parts }));
}

async function time<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  console.log(`${label.padEnd(58)} ${(performance.now() - started).toFixed(0).padStart(7)} ms`);
  return result;
}

/** The json struct of a generated row: the fields the explorer's dataset index reads. */
const benchJson = (i: string) => `{'youtube_title': 'video about topic ' || (${i} % 997) || ' number ' || ${i}, 'youtube_channel': 'Channel ' || (${i} % 5000),
  'duration_seconds': 30 + (${i} * 7919) % 1200, 'content_fine_category': ['Science Explainers','Recipe Videos','Gameplay Tutorials','Painting Tutorials'][1 + ${i} % 4], 'content_parent_category': 'Top ' || (${i} % 3)}`;

/** A standalone export of ROWS videos (tiny mp4 cells): index build and the first table page. */
async function standaloneExport(dir: string): Promise<void> {
  const root = join(dir, 'standalone');
  const shards = 20;
  const per = Math.ceil(ROWS / shards);
  await time(`generate a standalone export of ${ROWS.toLocaleString('en-US')} videos in ${shards} shards`, async () => {
    await mkdir(join(root, 'data', 'all'), { recursive: true });
    for (let s = 0; s < shards; s++) {
      await runDuckDb(`COPY (SELECT '\\x00'::BLOB AS mp4, ${benchJson('i')} AS json FROM range(${s * per}, ${Math.min(ROWS, (s + 1) * per)}) t(i))
        TO ${sqlString(join(root, 'data', 'all', `train-${String(s).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.parquet`))} (FORMAT parquet)`);
    }
    await runDuckDb(`COPY (SELECT ${id('i')} AS video_id, 'data/all/train-' || lpad(CAST(i // ${per} AS VARCHAR), 5, '0') || '-of-${String(shards).padStart(5, '0')}.parquet' AS path, i % ${per} AS "row",
      'posters/' || ${id('i')} || '.jpg' AS poster, 'posters/' || ${id('i')} || '.strip.jpg' AS strip FROM range(0, ${ROWS}) t(i))
      TO ${sqlString(join(root, 'index.parquet'))} (FORMAT parquet)`);
  });
  await time(`posters and strips of ${ROWS.toLocaleString('en-US')} videos (hard links to one real pair)`, () => sharedPosters(dir, root));
  const assets = { dir: join(dir, 'web'), ffmpegCoreDir: ffmpegCoreDir() };
  const server = await time('standalone export: start (index from index.parquet + json column)', () => startDatasetExplorer(detectDatasetFolder(root)!, { assets, cacheDir: join(dir, 'cache-standalone') }));
  try {
    for (const pass of ['first', 'second']) {
      console.log(`-- standalone export, ${pass} pass`);
      for (const path of ['/api/videos?page=1&pageSize=50', '/api/dataset', '/api/videos?q=topic%2042&pageSize=50']) {
        await time(`GET ${path}`, async () => (await fetch(new URL(path, server.url))).json());
      }
      await time('grid: GET /api/videos?pageSize=60 + its 60 posters (6 at once)', () => posterGrid(server.url, 'page=1&pageSize=60'));
      await time('grid: a deep sorted page + its 60 posters', () => posterGrid(server.url, 'page=1000&pageSize=60&sort=title'));
    }
  } finally {
    await server.close();
  }
}

/** One real poster and strip (as export makes them: 320x180, 8 frames of 160x90), hard-linked for every video. */
async function sharedPosters(dir: string, root: string): Promise<void> {
  const made = join(dir, 'poster-source');
  await mkdir(made, { recursive: true });
  const video = join(made, 'v.mp4');
  const ok = await runProcess(ffmpegPath(), ['-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=10:duration=8', '-c:v', 'libx264', '-preset', 'ultrafast', video], { timeoutMs: 60_000 });
  if (ok.exitCode !== 0) throw new Error(`bench: making a video for the posters: ${lastLines(ok.stderrTail)}`);
  const images = await makePosterAndStrip(video, DEFAULT_POSTER_OPTIONS);
  await writeFile(join(made, 'poster.jpg'), images.poster.jpeg);
  await writeFile(join(made, 'strip.jpg'), images.strip.jpeg);
  await mkdir(join(root, 'posters'), { recursive: true });
  // A file takes at most 65,000 links (ext4): a fresh copy of the pair every 50,000 videos.
  for (let i = 0; i < ROWS; i++) {
    const copy = Math.floor(i / 50_000);
    if (i % 50_000 === 0 && copy > 0) for (const f of ['poster', 'strip']) await writeFile(join(made, `${f}-${copy}.jpg`), await readFile(join(made, `${f}.jpg`)));
    const source = (f: string) => join(made, copy ? `${f}-${copy}.jpg` : `${f}.jpg`);
    const name = `b${String(i).padStart(10, '0')}`;
    await link(source('poster'), join(root, 'posters', `${name}.jpg`));
    await link(source('strip'), join(root, 'posters', `${name}.strip.jpg`));
  }
}

/** What the grid view loads: a page of 60 videos, then their posters, six requests at a time (a browser's per-host limit). */
async function posterGrid(url: string, query: string): Promise<void> {
  const page = await (await fetch(new URL(`/api/videos?${query}`, url))).json() as { rows: { video_id: string }[] };
  if (page.rows.length !== 60) throw new Error(`bench grid: expected 60 rows, got ${page.rows.length}`);
  const queue = page.rows.map((r) => r.video_id);
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const r = await fetch(new URL(`/posters/${next}.jpg?placeholder`, url));
      if (!r.ok || r.headers.get('X-Poster') === 'none') throw new Error(`bench grid: no poster for ${next} (HTTP ${r.status})`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

/** Peak resident memory of a process (Linux), in MB. */
const peakRssMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** A flat shard of about BENCH_EXPLORE_SHARD_MB (hard links to one blob file, so the disk holds it once besides the shard). */
async function flatShard(dir: string, assetsDir: string): Promise<void> {
  const shardMb = Number(process.env.BENCH_EXPLORE_SHARD_MB ?? 2048);
  const videoMb = 25;
  const count = Math.max(1, Math.round(shardMb / videoMb));
  const root = join(dir, 'flat');
  await mkdir(join(root, 'data'), { recursive: true });
  const blobs = join(dir, 'blobs');
  await mkdir(blobs, { recursive: true });
  await writeFile(join(blobs, 'v0.mp4'), Buffer.alloc(videoMb * 1024 * 1024, 7));
  for (let i = 1; i < count; i++) await link(join(blobs, 'v0.mp4'), join(blobs, `v${i}.mp4`));
  const files = Array.from({ length: count }, (_, i) => sqlString(join(blobs, `v${i}.mp4`)));
  await time(`generate a flat shard: ${count} videos of ${videoMb} MB`, () => runDuckDb(`SET threads = 1; SET preserve_insertion_order = true;
    COPY (SELECT content AS mp4, ${benchJson('CAST(regexp_extract(filename, \'v(\\d+)\\.mp4\', 1) AS INTEGER)')} AS json FROM read_blob([${files.join(', ')}]))
    TO ${sqlString(join(root, 'data', 'train-00000-of-00001.parquet'))} (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE 2)`));
  await rm(blobs, { recursive: true, force: true });
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'explore-serve.ts'), root, assetsDir, join(dir, 'cache-flat')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (s: string) => resolve(s.trim()));
      child.once('exit', (code) => reject(new Error(`explore-serve exited ${code}`)));
    });
    console.log(`flat shard served by pid ${child.pid}: peak RSS after indexing ${peakRssMb(child.pid!).toFixed(0)} MB`);
    const target = `f0000${String(Math.floor(count / 2)).padStart(6, '0')}`;
    const started = performance.now();
    const response = await fetch(new URL(`/media/${target}.mp4`, url), { headers: { Range: 'bytes=0-65535' } });
    const reader = response.body!.getReader();
    await reader.read();
    console.log(`${`first bytes of a ${videoMb} MB video out of the ${shardMb} MB shard`.padEnd(58)} ${(performance.now() - started).toFixed(0).padStart(7)} ms`);
    await reader.cancel();
    await time('the same video again, a 1 MB range', async () => (await fetch(new URL(`/media/${target}.mp4`, url), { headers: { Range: 'bytes=1048576-2097151' } })).arrayBuffer());
    console.log(`flat shard server: peak RSS ${peakRssMb(child.pid!).toFixed(0)} MB`);
  } finally {
    child.kill('SIGTERM');
  }
}

const dir = await mkdtemp(join(tmpdir(), 'bench-explore-'));
try {
  const root = join(dir, 'store');
  const store = new FileStore(root);
  await createRun(parsePipelineConfig(`name: bench\nstorage: ${JSON.stringify(root)}\nexecutor: { kind: local }\nstages:\n  - { stage: ytcommons, params: { source: /x } }\n  - { stage: download }\n  - { stage: classify }\n  - { stage: select }\n`), store, 'bench');
  const range = (lo: number, hi: number) => `FROM range(${lo}, ${hi}) t(i) WHERE true`;
  await time(`generate ${ROWS.toLocaleString('en-US')} videos in 4 stages x ${CHUNKS} parts`, async () => {
    await stage(store, root, 'ytcommons', (lo, hi) => `SELECT ${id('i')} AS video_id, 'video about topic ' || (i % 997) || ' number ' || i AS title, 'Channel ' || (i % 5000) AS channel, (i % 40) / 10.0 AS word_density,
      CASE WHEN i % 5 = 0 THEN 'dropped' ELSE 'kept' END AS status, CASE WHEN i % 5 = 0 THEN 'not-english-original' END AS reason ${range(lo, hi)}`, ROWS);
    await stage(store, root, 'download', (lo, hi) => `SELECT ${id('i')} AS video_id, 30 + (i * 7919) % 1200 AS duration, (i % 10) / 10.0 AS frozen_share,
      CASE WHEN i % 50 = 1 THEN 'error' ELSE 'kept' END AS status, CASE WHEN i % 50 = 1 THEN 'not-found' END AS reason ${range(lo, hi)} AND i % 5 <> 0`, ROWS);
    const cats = `['Science Explainers','Recipe Videos','Gameplay Tutorials','Academic Lectures','Painting Tutorials','Travel Vlogs'][1 + i % 6]`;
    await stage(store, root, 'classify', (lo, hi) => `SELECT ${id('i')} AS video_id, ${cats} AS category, 'Top ' || (i % 3) AS top_level, 'kept' AS status, NULL AS reason,
      30 + (i * 7919) % 1200 AS duration_seconds ${range(lo, hi)} AND i % 5 <> 0 AND i % 50 <> 1`, ROWS);
    await stage(store, root, 'select', (lo, hi) => `SELECT ${id('i')} AS video_id, (i * 31 % 1000) / 1000.0 AS score, CASE WHEN i % 7 = 0 THEN 'kept' ELSE 'dropped' END AS status,
      CASE WHEN i % 7 = 0 THEN NULL ELSE 'not-reached' END AS reason ${range(lo, hi)} AND i % 5 <> 0 AND i % 50 <> 1`, ROWS);
  });
  const assets = { dir: join(dir, 'web'), ffmpegCoreDir: ffmpegCoreDir() };
  await buildWebAssets(join(import.meta.dirname, '..', '..', 'libs', 'explorer', 'web'), assets.dir);
  const server = await time('start: read markers, build the DuckDB index', async () => startExplorer(await openExplorerSource(join(root, 'runs', 'bench')), { assets, cacheDir: join(dir, 'cache') }));
  try {
    const get = (path: string) => time(`GET ${path}`, async () => {
      const r = await fetch(new URL(path, server.url));
      if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
      return r.json();
    });
    console.log(`indexed videos: ${server.index.indexedVideos.toLocaleString('en-US')}`);
    // Twice: the first pass includes DuckDB's first-use costs; the second is what a user clicking around sees.
    for (const pass of ['first', 'second']) {
    console.log(`-- ${pass} pass`);
    await get('/api/run');
    await get('/api/dataset');
    await get('/api/videos?page=1&pageSize=50');
    await get('/api/videos?page=1500&pageSize=50&sort=title');
    await get('/api/videos?q=topic%2042&pageSize=50');
    await get(`/api/videos?category=${encodeURIComponent('Recipe Videos')}&status=kept&minDuration=600&sort=duration&dir=desc`);
    await get('/api/videos?status=dropped&reason=not-reached&channel=Channel%2042');
    await get('/api/channels?q=channel%204');
    await get('/api/videos/b0000000007');
    await get(`/api/videos/b0000000007/neighbours?category=${encodeURIComponent('Recipe Videos')}&sort=title`);
    await get('/api/histograms');
    await get(`/api/histograms?category=${encodeURIComponent('Recipe Videos')}&minDuration=600&minWordDensity=1&maxScore=0.5`);
    await get('/api/videos?minWordDensity=1&maxWordDensity=2&minDynamism=0.5&sort=duration');
    await time('GET /api/query.sql?status=kept&minScore=0.5 (the copied query)', async () => (await fetch(new URL('/api/query.sql?status=kept&minScore=0.5', server.url))).text());
    await time('GET /api/ids.txt?status=kept (every kept id, streamed)', async () => (await fetch(new URL('/api/ids.txt?status=kept', server.url))).text());
    }
  } finally {
    await server.close();
  }
  await standaloneExport(dir);
  await flatShard(dir, assets.dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
