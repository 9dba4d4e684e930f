// Times the select stage (one global chunk, as a worker runs it) over a classified table of N candidates
// on folder storage: reading the table, the selection, and writing every row back with its verdict.
// The chunk runs in a child process so its peak RSS is the stage's alone (not the fixture's).
//   node --import tsx tools/bench/select.ts [--candidates 2000000] [--parts 20] [--target-hours 4500]
// Figures are printed, never asserted (goal on this machine: <= 30 s, <= 1.5 GB at 2,000,000).
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emptyStats, runLayout, seededRandom, type DoneMarker, type PipelineConfig, type StageTable } from '@finevideo/core';
import { LEAF_NAMES } from '@finevideo/dataset';
import { createLogger, createRun, runChunk } from '@finevideo/runtime';
import { selectStage } from '@finevideo/stages/select';
import { FileStore, runDuckDb, sqlString } from '@finevideo/storage';

const { values } = parseArgs({
  options: {
    candidates: { type: 'string', default: '2000000' },
    parts: { type: 'string', default: '20' },
    'target-hours': { type: 'string', default: '4500' },
    measure: { type: 'string' },
  },
});
const candidates = Number(values.candidates);
const parts = Number(values.parts);
const runId = 'bench-select';
const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MB`;

if (values.measure) {
  const store = new FileStore(values.measure);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const log = createLogger({ stage: 'select-bench' });
  const result = await runChunk(selectStage, { store, runId, stageName: 'select', chunkIndex: 0, attempt: 1, log });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const marker = result.skipped ? undefined : (result as { marker: DoneMarker }).marker;
  process.stdout.write(`${JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, maxRssBytes: process.resourceUsage().maxRSS * 1024, kept: marker?.stats.kept, dropped: marker?.stats.dropped })}\n`);
} else {
  const root = join(process.cwd(), '.cache', 'bench', `select-${candidates}-${parts}`);
  const store = new FileStore(join(root, 'store'));
  const layout = runLayout(runId);
  const config = {
    name: 'bench-select', storage: store.root,
    stages: [{ name: 'classify', stage: 'classify' }, { name: 'select', stage: 'select', params: { targetHours: Number(values['target-hours']) } }],
  } as unknown as PipelineConfig;
  if (!existsSync(join(store.root, layout.stage('classify').table))) {
    console.log(`generating a classified table of ${candidates} candidates in ${parts} parts in ${root} ...`);
    const t = performance.now();
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, 'jsonl'), { recursive: true });
    const random = seededRandom(2_000_000);
    const int = (max: number) => Math.floor(random() * max);
    const keys: string[] = [];
    const per = Math.ceil(candidates / parts);
    for (let p = 0; p < parts; p++) {
      const jsonl = join(root, 'jsonl', `part-${p}.jsonl`);
      const out = createWriteStream(jsonl);
      let text = '';
      for (let i = p * per; i < Math.min(candidates, (p + 1) * per); i++) {
        const views = Math.floor(10 ** (random() * 7));
        text += `${JSON.stringify({
          video_id: `vid${String(i).padStart(8, '0')}`, title: `A video about thing ${i}`, category: LEAF_NAMES[int(LEAF_NAMES.length)],
          top_level: `Top ${int(12)}`, channel: `channel ${int(200_000)}`, channel_follower_count: random() < 0.05 ? null : int(5_000_000),
          duration_seconds: random() < 0.01 ? null : 20 + int(3600), view_count: views, like_count: random() < 0.1 ? null : Math.floor(views * random() * 0.05),
          comment_count: random() < 0.2 ? null : Math.floor(views * random() * 0.005), status: 'kept', reason: null,
        })}\n`;
        if (text.length > 1 << 20) {
          if (!out.write(text)) await once(out, 'drain');
          text = '';
        }
      }
      out.end(text);
      await once(out, 'close');
      const key = layout.stage('classify').part(p, 0);
      keys.push(key);
      await mkdir(join(store.root, key, '..'), { recursive: true });
      await runDuckDb(`COPY (SELECT * FROM read_json(${sqlString(jsonl)}, format = 'newline_delimited')) TO ${sqlString(join(store.root, key))} (FORMAT parquet)`);
      await rm(jsonl);
    }
    await createRun(config, store, runId);
    const table: StageTable = { stage: 'classify', sealedAt: new Date().toISOString(), stats: { ...emptyStats(), items: candidates, kept: candidates }, parts: keys };
    await store.put(layout.stage('classify').table, JSON.stringify(table));
    console.log(`generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  // A fresh run of the chunk each time.
  await rm(join(store.root, layout.stage('select').root), { recursive: true, force: true });
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', store.root], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`select bench child failed with exit code ${child.status}`);
  const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { ms: number; cpuMs: number; maxRssBytes: number; kept: number; dropped: number };
  console.log(`select: ${candidates} candidates -> ${r.kept} kept, ${r.dropped} dropped (one global chunk, folder storage)`);
  // CPU time next to wall time: on a shared machine the wall clock also counts other processes' load.
  console.log(`  time ${(r.ms / 1000).toFixed(2)} s wall, ${(r.cpuMs / 1000).toFixed(2)} s CPU (goal <= 30 s), load average ${loadavg()[0]!.toFixed(1)}, peak RSS ${mb(r.maxRssBytes)} (goal <= 1.5 GB)`);
  console.log(JSON.stringify({ bench: 'select', candidates, kept: r.kept, seconds: +(r.ms / 1000).toFixed(2), cpuSeconds: +(r.cpuMs / 1000).toFixed(2), load: +loadavg()[0]!.toFixed(1), peakRssMB: Math.round(r.maxRssBytes / 1024 ** 2) }));
}
