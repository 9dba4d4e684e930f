// Times the launcher's planStage for a map stage (download) over a previous table of N video ids, on
// folder storage: reading the ids, spooling, splitting into chunks and writing every chunk's work list.
// The plan runs in a child process so its peak RSS is the plan's alone (not the fixture's).
//   node --import tsx tools/bench/plan.ts [--items 2000000] [--items-per-chunk N] [--parts 20]
// Figures are printed, never asserted (goal on this machine: <= 10 s, <= 300 MB RSS at 2,000,000).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emptyStats, pipelineStages, runLayout, type PipelineConfig, type StageTable } from '@finevideo/core';
import { createLogger, createRun, planStage, readRunManifest } from '@finevideo/runtime';
import { stageByType } from '@finevideo/stages';
import { FileStore, runDuckDb, sqlString } from '@finevideo/storage';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '2000000' },
    'items-per-chunk': { type: 'string' },
    parts: { type: 'string', default: '20' },
    measure: { type: 'string' },
  },
});
const items = Number(values.items);
const parts = Number(values.parts);
const runId = 'bench-plan';
const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MB`;

if (values.measure) {
  // The child: plan the download stage once and report.
  const store = new FileStore(values.measure);
  const manifest = await readRunManifest(store, runId);
  const stages = pipelineStages(manifest.config);
  const log = createLogger({ stage: 'plan-bench' });
  const baselineRss = process.memoryUsage().rss;
  const peak = { heapTotal: 0, external: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.external = Math.max(peak.external, m.external);
  }, 20);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const plan = await planStage(manifest, stages[1]!, stages[0], { store, log, resolveStage: stageByType });
  clearInterval(sampler);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, maxRssBytes: process.resourceUsage().maxRSS * 1024, baselineRss, peakHeapTotal: peak.heapTotal, peakExternal: peak.external, itemCount: plan.itemCount, chunkCount: plan.chunkCount })}\n`);
} else {
  const root = join(process.cwd(), '.cache', 'bench', `plan-${items}-${parts}`);
  const store = new FileStore(join(root, 'store'));
  const layout = runLayout(runId);
  const config = {
    name: 'bench-plan', storage: store.root,
    stages: [
      { name: 'worddensity', stage: 'worddensity' },
      { name: 'download', stage: 'download', ...(values['items-per-chunk'] ? { itemsPerChunk: Number(values['items-per-chunk']) } : {}) },
    ],
  } as unknown as PipelineConfig;
  if (!existsSync(join(store.root, layout.stage('worddensity').table))) {
    console.log(`generating a worddensity table of ${items} rows in ${parts} parts in ${root} ...`);
    const t = performance.now();
    await rm(root, { recursive: true, force: true });
    await mkdir(store.root, { recursive: true });
    const keys: string[] = [];
    const per = Math.ceil(items / parts);
    for (let p = 0; p < parts; p++) {
      const key = layout.stage('worddensity').part(p, 0);
      keys.push(key);
      await mkdir(join(store.root, key, '..'), { recursive: true });
      // YouTube-like 11-character ids and the metadata columns a real table carries; a hash, not a random draw.
      await runDuckDb(`COPY (SELECT substr(replace(replace(to_base64(unhex(md5(i::VARCHAR))), '+', '-'), '/', '_'), 1, 11) AS video_id,
        'A video title number ' || i::VARCHAR AS title, 'channel ' || (i % 50000)::VARCHAR AS channel, (i % 1000003)::BIGINT AS channel_follower_count,
        ((i % 50) + 1)::VARCHAR || ':' || lpad((i % 60)::VARCHAR, 2, '0') AS duration_string, (i % 5000)::BIGINT AS word_count,
        (i * 7919 % 10000019)::BIGINT AS view_count, (i % 100003)::BIGINT AS like_count, (i % 1009)::BIGINT AS comment_count,
        'kept' AS status, NULL::VARCHAR AS reason
        FROM range(${p * per}, ${Math.min(items, (p + 1) * per)}) t(i)) TO ${sqlString(join(store.root, key))} (FORMAT parquet)`);
    }
    await createRun(config, store, runId);
    const table: StageTable = { stage: 'worddensity', sealedAt: new Date().toISOString(), stats: { ...emptyStats(), items, kept: items }, parts: keys };
    await store.put(layout.stage('worddensity').table, JSON.stringify(table));
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  // A fresh plan each time: the download stage's plan and chunks are removed first.
  await rm(join(store.root, layout.stage('download').root), { recursive: true, force: true });
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', store.root, '--items', String(items)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`plan bench child failed with exit code ${child.status}`);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { ms: number; cpuMs: number; maxRssBytes: number; baselineRss: number; peakHeapTotal: number; peakExternal: number; itemCount: number; chunkCount: number };
  console.log(`plan: ${result.itemCount} items into ${result.chunkCount} chunks (download stage, folder storage)`);
  // CPU time next to wall time: on a shared machine the wall clock also counts other processes' load.
  console.log(`  time ${(result.ms / 1000).toFixed(2)} s wall, ${(result.cpuMs / 1000).toFixed(2)} s CPU (goal <= 10 s), load average ${loadavg()[0]!.toFixed(1)}, peak RSS ${mb(result.maxRssBytes)} (goal <= 300 MB)`);
  console.log(`  of which: process before planning (node, tsx, modules) ${mb(result.baselineRss)}; peak JS heap ${mb(result.peakHeapTotal)}, peak external ${mb(result.peakExternal)}`);
  console.log(JSON.stringify({ bench: 'plan', items: result.itemCount, chunks: result.chunkCount, seconds: +(result.ms / 1000).toFixed(2), cpuSeconds: +(result.cpuMs / 1000).toFixed(2), load: +loadavg()[0]!.toFixed(1), peakRssMB: Math.round(result.maxRssBytes / 1024 ** 2) }));
}
