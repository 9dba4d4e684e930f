// Annotation throughput against the fake Gemini API with Gemini-like latency (20-60 s per video,
// uniformly drawn), time scaled down by --time-scale (default 0.2: 4-12 s per video, file polls every
// 1 s instead of 5 s) so the benchmark takes about three minutes; figures are also given in real time.
// The stage at its concurrency vs one request at a time (the original annotated one video after another).
//   node --import tsx tools/bench/annotate.ts [--videos 512] [--concurrency 64] [--sequential-sample 6] [--time-scale 0.2]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { mediaLayout, type ItemContext, type Outcome } from '@finevideo/core';
import { orderedPool } from '@finevideo/runtime';
import { FileStore } from '@finevideo/storage';
import { generateVideo, startFakeGemini } from '@finevideo/testing';
import { annotateParams, annotateStage, type AnnotateItem, type AnnotateParams } from '@finevideo/stages/annotate';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    videos: { type: 'string', default: '512' },
    concurrency: { type: 'string', default: String(annotateParams.parse({}).concurrency) },
    'sequential-sample': { type: 'string', default: '6' },
    'time-scale': { type: 'string', default: '0.2' },
  },
});
const scale = Number(values['time-scale']);

if (values.serve) {
  // The fake runs in its own process, so its work does not share the stage's event loop.
  const fake = await startFakeGemini({ latencyMs: [20_000 * scale, 60_000 * scale], processingPolls: 1 });
  console.log(JSON.stringify({ baseUrl: fake.baseUrl, apiKey: fake.apiKey }));
  process.on('SIGTERM', () => {
    console.error(JSON.stringify({ alive: fake.stats.aliveFiles.size, uploads: fake.stats.uploads, generate: fake.stats.generateTotal, maxConcurrent: fake.stats.maxConcurrentGenerate }));
    void fake.close().then(() => process.exit(0));
  });
} else {
  const server = spawn(process.execPath, ['--import', 'tsx', 'tools/bench/annotate.ts', '--serve', '--time-scale', String(scale)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
  const fake = JSON.parse(line) as { baseUrl: string; apiKey: string };
  const dir = await mkdtemp(join(tmpdir(), 'bench-annotate-'));
  const videos = Number(values.videos);
  const sample = Number(values['sequential-sample']);
  const concurrency = Number(values.concurrency);
  const id = (i: number) => `b${String(i).padStart(10, '0')}`;
  try {
    const video = join(dir, 'sample.mp4');
    await generateVideo(video, { sections: [{ kind: 'motion', seconds: 30 }], fps: 4, audio: true });
    for (let i = 0; i < videos + sample; i++) {
      const target = join(dir, 'store', mediaLayout(id(i)).video);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(video, target);
    }
    const store = new FileStore(join(dir, 'store'));
    process.env.FINEVIDEO_BENCH_GEMINI_KEY = fake.apiKey;
    const run = async (from: number, count: number, c: number) => {
      const params: AnnotateParams = annotateParams.parse({
        geminiBaseUrl: fake.baseUrl, geminiApiKeyEnv: 'FINEVIDEO_BENCH_GEMINI_KEY', model: 'gemini-2.5-pro', concurrency: c, filePollMs: Math.round(5_000 * scale),
      });
      const counters: Record<string, number> = {};
      const ctx: ItemContext<AnnotateParams> = {
        params, runId: 'bench', stageName: 'annotate', store, chunkIndex: 0, attempt: 1, tmpDir: dir, signal: new AbortController().signal,
        log: { info: () => undefined, warn: (m) => console.error(m), error: (m) => console.error(m) },
        count: (k, n = 1) => void (counters[k] = (counters[k] ?? 0) + n),
      };
      const items: AnnotateItem[] = Array.from({ length: count }, (_, i) => ({ video_id: id(from + i), duration_seconds: 30, title: `video ${i}`, description: '', transcript: '' }));
      let kept = 0;
      const started = performance.now();
      await orderedPool(items, annotateStage.itemConcurrency(params), async (it) => (await annotateStage.processItem(it, ctx)) as Outcome, (o) => void (o.status === 'kept' && kept++));
      const seconds = (performance.now() - started) / 1000;
      return { seconds, kept, perMinute: (count / seconds) * 60, counters };
    };
    const seq = await run(videos, sample, 1);
    const par = await run(0, videos, concurrency);
    server.kill('SIGTERM');
    const [statsLine] = (await once(createInterface({ input: server.stderr! }), 'line')) as [string];
    const serverStats = JSON.parse(statsLine) as { alive: number; uploads: number; generate: number; maxConcurrent: number };
    const real = (perMinute: number) => perMinute * scale * 60;
    console.log(`annotate benchmark: fake Gemini with 20-60 s per video, time scaled by ${scale} (${20 * scale}-${60 * scale} s), file polls every ${5 * scale} s`);
    console.log(`  one request at a time: ${sample} videos in ${seq.seconds.toFixed(1)} s = ${seq.perMinute.toFixed(1)} videos/min scaled, ${real(seq.perMinute).toFixed(0)} videos/hour in real time`);
    console.log(`  stage, concurrency ${concurrency}: ${videos} videos in ${par.seconds.toFixed(1)} s = ${par.perMinute.toFixed(1)} videos/min scaled, ${real(par.perMinute).toFixed(0)} videos/hour in real time (${par.kept} kept)`);
    console.log(`  speed-up: ${(par.perMinute / seq.perMinute).toFixed(1)}x on one worker (goal >= 30x); files left on the fake: ${serverStats.alive} of ${serverStats.uploads} uploaded; most generateContent calls in flight: ${serverStats.maxConcurrent}`);
    console.log(`  tokens reported: ${(par.counters.annotate_input_tokens ?? 0).toLocaleString('en-US')} input, ${(par.counters.annotate_output_tokens ?? 0).toLocaleString('en-US')} output; cost at list price ${((par.counters.annotate_cost_microusd ?? 0) / 1e6).toFixed(2)} $ for ${videos} videos of 30 s`);
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}
