// A chunk process's start-up, spawned the way the local executor spawns it (the compiled worker from
// workerCommand, its environment, stdin a pipe from the launcher), N times one after another: wall time
// from spawn to its first line of output (the worker's "starting chunk") and to its exit, for a chunk
// of no items (it runs and writes its done marker) and a chunk already done (it checks the marker and
// exits); bare node alongside. Children's CPU time (from /proc) too: on a shared machine wall time also
// counts others' load.
//   node --import tsx tools/bench/worker-start.ts [--starts 20] [--stage download]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WORKER_ENV, parsePipelineConfig, runLayout } from '@finevideo/core';
import { createRun, workerCommand, type StagePlan } from '@finevideo/runtime';
import { FileStore } from '@finevideo/storage';

const { values } = parseArgs({ options: { starts: { type: 'string', default: '20' }, stage: { type: 'string', default: 'download' } } });
const starts = Number(values.starts);
const stageType = values.stage!;
if (!Number.isSafeInteger(starts) || starts < 1) throw new Error(`--starts: expected a whole number >= 1, got ${values.starts}`);

/** CPU seconds of this process's waited-for children (cutime + cstime of /proc/self/stat, 100 ticks a second). */
function childrenCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

interface Start { firstLineMs: number; exitMs: number }

function startOnce(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Start> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    let firstLineMs = Number.NaN;
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const seen = () => {
      if (Number.isNaN(firstLineMs)) firstLineMs = performance.now() - began;
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('error', reject);
    child.on('close', (code) => {
      const exitMs = performance.now() - began;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}`));
      else resolve({ firstLineMs: Number.isNaN(firstLineMs) ? exitMs : firstLineMs, exitMs });
    });
  });
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;

async function measure(label: string, command: string, args: string[], env: NodeJS.ProcessEnv, before: () => Promise<void>) {
  const runs: Start[] = [];
  const cpuBefore = childrenCpuSeconds();
  for (let i = 0; i < starts; i++) {
    await before();
    runs.push(await startOnce(command, args, env));
  }
  const cpuMs = ((childrenCpuSeconds() - cpuBefore) / starts) * 1000;
  const first = runs.map((r) => r.firstLineMs);
  const exit = runs.map((r) => r.exitMs);
  const row = { label, firstLineMs: { median: Math.round(quantile(first, 0.5)), p90: Math.round(quantile(first, 0.9)) }, exitMs: { median: Math.round(quantile(exit, 0.5)), p90: Math.round(quantile(exit, 0.9)) }, cpuMsPerStart: Math.round(cpuMs) };
  console.log(`${label.padEnd(34)} first line ${row.firstLineMs.median} ms median, ${row.firstLineMs.p90} ms p90; exit ${row.exitMs.median} ms median, ${row.exitMs.p90} ms p90; ${row.cpuMsPerStart} ms CPU a start`);
  return row;
}

const dir = await mkdtemp(join(tmpdir(), 'finevideo-worker-start-'));
try {
  const store = new FileStore(dir);
  const runId = 'bench-start';
  const config = parsePipelineConfig(`name: bench\nstorage: ${dir}\nstages:\n  - stage: ${stageType}\n    allowEmptyInput: true\n`);
  await createRun(config, store, runId);
  const layout = runLayout(runId).stage(stageType);
  // A chunk of no items: an empty work list and a plan whose one chunk is its empty byte range.
  const plan: StagePlan = { stage: stageType, type: stageType, kind: 'map', itemCount: 0, chunkCount: 1, ranges: [{ index: 0, start: 0, end: 0 }], plannedAt: new Date().toISOString(), workList: { offsets: [0, 0] } };
  await store.put(layout.workList, '');
  await store.put(layout.plan, JSON.stringify(plan));
  const { command, args } = workerCommand(stageType); // builds the compiled worker first when its sources changed
  const env = { ...process.env, FINEVIDEO_DUCKDB_THREADS: '1', [WORKER_ENV.storage]: dir, [WORKER_ENV.runId]: runId, [WORKER_ENV.stage]: stageType, [WORKER_ENV.index]: '0', [WORKER_ENV.attempt]: '1', [WORKER_ENV.launcherPipe]: 'stdin' };
  const clearMarker = async () => {
    await store.delete(layout.done(0));
  };
  console.log(`machine load average ${loadavg()[0]!.toFixed(1)}; ${starts} starts each, one at a time; worker ${args.at(-1)}`);
  const rows = [
    await measure('bare node (node -e 0)', process.execPath, ['-e', '0'], env, async () => undefined),
    await measure(`${stageType} worker, chunk of no items`, command, args, env, clearMarker),
    await measure(`${stageType} worker, chunk already done`, command, args, env, async () => undefined),
  ];
  console.log(JSON.stringify({ bench: 'worker-start', stage: stageType, starts, load: +loadavg()[0]!.toFixed(1), rows }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
