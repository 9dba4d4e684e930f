// Times ytcommons -> worddensity through the launcher on generated YouTube-Commons-like shards,
// against the original approach (every shard loaded into memory at once, then filtered).
//   node --import tsx tools/bench/spine.ts [--rows 200000] [--shards 20] [--text-bytes 28000] [--workers 2]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateYtCommonsShards, type YtCommonsExpectation } from '@finevideo/testing';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    shards: { type: 'string', default: '20' },
    'text-bytes': { type: 'string', default: '28000' },
    workers: { type: 'string', default: '2' },
    'skip-baseline': { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const shards = Number(values.shards);
const textBytes = Number(values['text-bytes']);
const workers = Number(values.workers);
const root = process.cwd();
const cache = join(root, '.cache', 'bench');
const data = join(cache, `ytc-${rows}-${shards}-${textBytes}`);
const gb = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GB`;
const mb = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MB`;

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) if (f.endsWith('.parquet')) total += (await stat(join(dir, f))).size;
  return total;
}

if (!existsSync(join(data, 'expectation.json'))) {
  console.log(`generating ${rows} rows in ${shards} shards (~${textBytes} bytes of transcript per row) in ${data} ...`);
  const t = Date.now();
  await rm(data, { recursive: true, force: true });
  const e = await generateYtCommonsShards(data, { shards, rowsPerShard: Math.ceil(rows / shards), seed: 1, averageTextBytes: textBytes });
  await writeFile(join(data, 'expectation.json'), JSON.stringify({ ...e, english: e.english.length, dense: e.dense.length }));
  console.log(`generated in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
const expectation = JSON.parse(await readFile(join(data, 'expectation.json'), 'utf8')) as Omit<YtCommonsExpectation, 'english' | 'dense'> & { english: number; dense: number };
const parquetBytes = await dirSize(data);

// The launcher runs the bundled workers, as the images do.
for (const app of ['apps/launcher', 'apps/stage-ytcommons', 'apps/stage-worddensity']) {
  const r = spawnSync(process.execPath, ['tools/build/bundle.mjs', app], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`bundling ${app} failed`);
}

const store = join(cache, 'store');
await rm(store, { recursive: true, force: true });
await mkdir(cache, { recursive: true });
const pipeline = join(cache, 'spine.yaml');
await writeFile(pipeline, [
  'name: bench', `storage: ${store}`, `executor: { kind: local, parallelism: ${workers}, retries: 0 }`, 'stages:',
  `  - stage: ytcommons`, `    params: { source: ${data} }`, `    chunks: ${workers}`,
  `  - stage: worddensity`, `    chunks: ${workers}`,
].join('\n'));

function timed(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ seconds: number; code: number | null; stdout: string; maxRssBytes?: number }> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, code, stdout }));
  });
}

console.log(`\nrunning the pipeline through the launcher (${workers} workers) ...`);
const run = await timed(process.execPath, ['bin/finevideo.mjs', 'run', pipeline, '--run-id', 'bench', '--json'], { FINEVIDEO_BUNDLED: '1' });
if (run.code !== 0) throw new Error(`launcher exited ${run.code}`);
const summary = JSON.parse(run.stdout) as { stages: { stage: string; stats: { kept: number; items: number } }[] };
const perStage: { stage: string; peak: number; chunkSeconds: number }[] = [];
for (const stage of ['ytcommons', 'worddensity']) {
  const dir = join(store, 'runs', 'bench', stage, 'done');
  let peak = 0;
  let ms = 0;
  for (const f of await readdir(dir)) {
    const m = JSON.parse(await readFile(join(dir, f), 'utf8')) as { peakRssBytes: number; durationMs: number };
    peak = Math.max(peak, m.peakRssBytes);
    ms += m.durationMs;
  }
  perStage.push({ stage, peak, chunkSeconds: ms / 1000 });
}
const kept = summary.stages.map((s) => s.stats.kept);
if (kept[0] !== expectation.english || kept[1] !== expectation.dense) {
  throw new Error(`counts differ from the generator's expectation: kept ${kept} vs ${expectation.english}, ${expectation.dense}`);
}

let baseline: { seconds: number; maxRssBytes: number; kept: number } | undefined;
if (!values['skip-baseline']) {
  console.log('running the baseline (all shards in memory, then filter) ...');
  const b = await timed(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', 'tools/bench/load-all-baseline.ts', data]);
  if (b.code !== 0) throw new Error(`baseline exited ${b.code}`);
  const r = JSON.parse(b.stdout) as { maxRssBytes: number; kept: number };
  baseline = { seconds: b.seconds, maxRssBytes: r.maxRssBytes, kept: r.kept };
}

console.log(`\ninput: ${expectation.rows} rows, ${shards} shards, ${gb(expectation.textBytes)} of transcripts, ${gb(parquetBytes)} of parquet`);
console.log('approach                         wall s    rows/s      peak memory');
console.log(`finevideo launcher (${workers} workers)    ${run.seconds.toFixed(1).padStart(6)}  ${Math.round(expectation.rows / run.seconds).toString().padStart(8)}   ${perStage.map((s) => `${s.stage} ${mb(s.peak)}/worker`).join(', ')}`);
if (baseline) {
  console.log(`load all, then filter            ${baseline.seconds.toFixed(1).padStart(6)}  ${Math.round(expectation.rows / baseline.seconds).toString().padStart(8)}   ${mb(baseline.maxRssBytes)} (one process)`);
  console.log(`speed-up: ${(baseline.seconds / run.seconds).toFixed(2)}x; both keep ${baseline.kept} rows after both filters`);
}
console.log(`stage chunk time (sum over chunks): ${perStage.map((s) => `${s.stage} ${s.chunkSeconds.toFixed(1)} s`).join(', ')}`);
