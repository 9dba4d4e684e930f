// Times `status` of a run with many chunks on folder storage (goal: <= 2 s for 20,000 chunks), with the
// launcher's RSS and the time per 1,000 chunks (a cost or memory that grows with the run shows).
// Builds the run folder once (plan, a marker and a part per chunk, table.json), then times the
// status the CLI computes, in process and through the real CLI, with and without --verify.
//   node --import tsx tools/bench/status.ts [--chunks 20000] [--stages 2]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { parsePipelineConfig, pipelineStages, runLayout, type StageTable } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { createRun, orderedPool, runStatus, type ChunkMarker, type StagePlan } from '@finevideo/runtime';

const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '20000' },
    stages: { type: 'string', default: '1' },
    fresh: { type: 'boolean', default: false },
  },
});
const chunks = Number(values.chunks);
const stageCount = Number(values.stages);
const root = process.cwd();
const storage = join(root, '.cache', 'bench', `status-${chunks}x${stageCount}`);
const runId = 'bench-status';
const ms = (t: number) => `${Math.round(t)} ms`;

async function build(): Promise<void> {
  await rm(storage, { recursive: true, force: true });
  const names = Array.from({ length: stageCount }, (_, i) => `stage${i}`);
  const config = parsePipelineConfig(
    [`name: bench`, `storage: ${storage}`, 'stages:', ...names.flatMap((n, i) => [`  - stage: ${i === 0 ? 'ytcommons' : 'worddensity'}`, `    name: ${n}`, `    chunks: ${chunks}`])].join('\n'),
  );
  const store = new FileStore(storage);
  await createRun(config, store, runId);
  for (const s of pipelineStages(config)) {
    const layout = runLayout(runId).stage(s.name);
    const ranges = Array.from({ length: chunks }, (_, index) => ({ index, start: index * 100, end: index * 100 + 100 }));
    const plan: StagePlan = { stage: s.name, type: s.stage, kind: 'map', itemCount: chunks * 100, chunkCount: chunks, ranges, plannedAt: new Date().toISOString() };
    await store.put(layout.plan, JSON.stringify(plan));
    await mkdir(join(storage, layout.root, 'done'), { recursive: true });
    await mkdir(join(storage, layout.root, 'out'), { recursive: true });
    const parts: string[] = [];
    await orderedPool(ranges, 32, async (r) => {
      const part = layout.part(r.index, 0);
      const marker: ChunkMarker = {
        stage: s.name, index: r.index, attempt: 1, startedAt: plan.plannedAt, finishedAt: plan.plannedAt, durationMs: 1000, peakRssBytes: 1e8,
        stats: { items: 100, kept: 60, dropped: 35, errors: 5, reasons: { 'dropped:not english': 35, 'error:not found': 5 }, counters: { bytes: 12345 } },
        parts: [part],
        errorItems: Array.from({ length: 5 }, (_, k) => ({ key: `v${r.index}-${k}`, reason: 'not found: video unavailable' })),
      };
      // Plain writes: the bench measures reading, not the atomic puts a worker does.
      await writeFile(join(storage, part), 'PAR1');
      await writeFile(join(storage, layout.done(r.index)), JSON.stringify(marker, null, 2));
      return part;
    }, (part) => {
      parts.push(part);
    });
    const table: StageTable = { stage: s.name, sealedAt: new Date().toISOString(), stats: { items: 0, kept: 0, dropped: 0, errors: 0, reasons: {}, counters: {} }, parts };
    await store.put(layout.table, JSON.stringify(table));
  }
  await writeFile(join(storage, 'built'), new Date().toISOString());
}

if (values.fresh || !existsSync(join(storage, 'built'))) {
  const t = performance.now();
  console.log(`building a run of ${stageCount} stage(s) x ${chunks} chunks in ${storage} ...`);
  await build();
  console.log(`built in ${ms(performance.now() - t)}`);
}

const store = new FileStore(storage);
console.log(`machine: ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (wall figures scale with it)`);
// Wall time depends on what else the machine runs; CPU time (user + system) says what status itself costs.
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
for (const verify of [false, true, false, true]) {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const status = await runStatus(store, runId, { verify });
  const took = performance.now() - t;
  const cpuTook = cpuMs(process.cpuUsage(cpu));
  const done = status.stages.reduce((n, s) => n + s.done, 0);
  if (!status.complete || done !== chunks * stageCount) throw new Error(`status: expected a complete run of ${chunks * stageCount} chunks, got ${done} (complete: ${status.complete})`);
  const per1000 = (t: number) => `${ms((t / done) * 1000)} per 1,000 chunks`;
  console.log(`runStatus${verify ? ' --verify' : ''} in process: ${ms(took)} wall, ${ms(cpuTook)} CPU for ${done} markers (${stageCount} stage(s) x ${chunks} chunks): ${per1000(took)} wall, ${per1000(cpuTook)} CPU; launcher RSS ${Math.round(process.memoryUsage().rss / 1024 ** 2)} MB (peak ${Math.round(process.resourceUsage().maxRSS / 1024)} MB)`);
}
const cli = join(root, 'bin', 'finevideo.mjs');
// The CLI's start-up alone (TypeScript through tsx in a checkout), to read the figures below against.
const t0 = performance.now();
spawnSync(process.execPath, [cli, 'status', '--help'], { encoding: 'utf8' });
console.log(`finevideo status --help (start-up only): ${ms(performance.now() - t0)} wall`);
for (const args of [[], ['--verify']]) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, 'status', join(storage, 'runs', runId), ...args], { encoding: 'utf8' });
  const took = performance.now() - t;
  if (r.status !== 0) throw new Error(`finevideo status ${args.join(' ')}: expected exit 0, got ${r.status}\n${r.stderr}`);
  console.log(`finevideo status ${args.join(' ')}`.trimEnd() + `: ${ms(took)} wall, process start-up included (first line: ${r.stdout.split('\n')[0]})`);
}
