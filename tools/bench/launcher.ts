// The launcher's own cost over one large stage: a run of N no-op chunks (default 40,000) through
// runPipeline and the local executor, each chunk a tiny shell process that writes its done marker
// (a real worker's start-up is measured by bench:spine). Prints, per 1,000 chunks done, the wall
// time and the launcher's RSS and JS heap, so a cost or a memory that grows with the run shows.
// --stop-after N stops the run (as Ctrl-C would) once N chunks are done: the launcher at the scale of a
// 40,000-chunk stage (its plan, its pending list) for as long as this machine can spare.
//   node --expose-gc --import tsx tools/bench/launcher.ts [--chunks 40000] [--parallelism 4] [--stop-after N] [--live-heap]
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parsePipelineConfig } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
// The one module, not the testing library's index: its fake servers (S3, Kubernetes, ...) would weigh on the launcher RSS measured here.
import { numberedStage } from '../../libs/testing/src/numbered-stage.js';
import { LocalExecutor, createLogger, createRun, runPipeline } from '@finevideo/runtime';

const { values } = parseArgs({ options: { chunks: { type: 'string', default: '40000' }, parallelism: { type: 'string', default: '4' }, 'stop-after': { type: 'string' }, 'live-heap': { type: 'boolean', default: false } } });
const chunks = Number(values.chunks);
const parallelism = Number(values.parallelism);
if (!Number.isSafeInteger(chunks) || chunks < 1000) throw new Error(`--chunks: expected a whole number >= 1000, got ${values.chunks}`);
const stopAfter = values['stop-after'] === undefined ? chunks : Number(values['stop-after']);
if (!Number.isSafeInteger(stopAfter) || stopAfter < 1000 || stopAfter > chunks) throw new Error(`--stop-after: expected a whole number in [1000, ${chunks}], got ${values['stop-after']}`);
const stop = new AbortController();

const noop = numberedStage({
  name: 'noop', description: 'bench: one item per chunk, nothing done', items: chunks, itemsPerChunk: 1, memory: '64Mi',
  processItem: async () => ({ status: 'kept', row: {} }),
});

// The "worker": writes the marker a finished chunk leaves (no parts, one item kept), as a worker would last.
const worker = `dir="$BENCH_STORE/runs/$FINEVIDEO_RUN_ID/$FINEVIDEO_STAGE/done"; f="$dir/$(printf %06d "$JOB_COMPLETION_INDEX").json"
printf '{"stage":"%s","index":%d,"attempt":1,"startedAt":"","finishedAt":"","durationMs":0,"peakRssBytes":0,"stats":{"items":1,"kept":1,"dropped":0,"errors":0,"reasons":{},"counters":{}},"parts":[]}' "$FINEVIDEO_STAGE" "$JOB_COMPLETION_INDEX" > "$f.tmp" && mv "$f.tmp" "$f"`;

const root = join(process.cwd(), '.cache', 'bench', `launcher-${chunks}`);
await rm(root, { recursive: true, force: true });
await mkdir(join(root, 'runs', 'bench', 'noop', 'done'), { recursive: true });
const store = new FileStore(root);
const config = parsePipelineConfig(`name: bench\nstorage: ${root}\nexecutor: { kind: local, parallelism: ${parallelism}, retries: 0 }\nstages:\n  - stage: noop\n`);
const manifest = await createRun(config, store, 'bench');
const executor = new LocalExecutor({ parallelism, retries: 0, store, env: { BENCH_STORE: root }, command: () => ({ command: 'sh', args: ['-c', worker] }) });

const mb = (n: number) => Math.round(n / 1024 ** 2);
const started = performance.now();
let last = started;
let lastCpu = process.cpuUsage();
let next = 1000;
const rows: { done: number; secondsPer1000: number; cpuSecondsPer1000: number; rssMB: number; heapMB: number }[] = [];
console.log(`machine: ${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(1)}; ${chunks} no-op chunks, ${parallelism} at once`);
console.log(`launcher at start: RSS ${mb(process.memoryUsage().rss)} MB`);
const outcomes = await runPipeline(manifest, {
  store, log: createLogger({}, false), resolveStage: () => noop, executor, workerEnv: {}, signal: stop.signal,
  onProgress: (_stage, p) => {
    if (stopAfter < chunks && p.succeeded >= stopAfter && !stop.signal.aborted) stop.abort(new Error(`stopped after ${stopAfter} chunks`));
    while (p.succeeded >= next) {
      const now = performance.now();
      const { rss } = process.memoryUsage();
      // --live-heap: the heap's live part (V8 lets garbage pile up while there is room, so heapUsed grows
      // until its next full collection); the collection also returns pages, so RSS is sampled before it.
      if (values['live-heap']) globalThis.gc?.();
      const { heapUsed } = process.memoryUsage();
      // The launcher's CPU (user + system) says what it costs whatever else loads the machine.
      const cpu = process.cpuUsage(lastCpu);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      rows.push({ done: next, secondsPer1000: (now - last) / 1000, cpuSecondsPer1000: cpuSeconds, rssMB: mb(rss), heapMB: mb(heapUsed) });
      console.log(`${String(next).padStart(6)} chunks done: ${((now - last) / 1000).toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s launcher CPU for the last 1,000; launcher RSS ${mb(rss)} MB, ${values['live-heap'] ? 'live JS heap' : 'JS heap'} ${mb(heapUsed)} MB`);
      last = now;
      lastCpu = process.cpuUsage();
      next += 1000;
    }
  },
});
const total = (performance.now() - started) / 1000;
const outcome = outcomes[0];
if (stopAfter === chunks && (!outcome?.tableKey || outcome.stats.items !== chunks)) throw new Error(`expected the stage sealed with ${chunks} items, got ${JSON.stringify(outcome?.stats)}`);
const rss = rows.map((r) => r.rssMB);
const ran = rows.length * 1000;
console.log(`total ${total.toFixed(1)} s for ${ran} of ${chunks} chunks (${((total / ran) * 1000).toFixed(1)} s per 1,000 chunks, planning and sealing included); launcher RSS over the run ${Math.min(...rss)}-${Math.max(...rss)} MB, peak ${mb(process.resourceUsage().maxRSS * 1024)} MB`);
const cpuPer1000 = rows.map((r) => r.cpuSecondsPer1000);
console.log(JSON.stringify({ bench: 'launcher', chunks, ran, parallelism, seconds: +total.toFixed(1), launcherCpuSecondsPer1000: { min: +Math.min(...cpuPer1000).toFixed(2), max: +Math.max(...cpuPer1000).toFixed(2) }, rssMB: { first: rss[0], last: rss.at(-1), min: Math.min(...rss), max: Math.max(...rss) }, load: +loadavg()[0]!.toFixed(1) }));
