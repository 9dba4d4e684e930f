// Classification throughput against a fake TGI (200 ms per request, 128 served at once):
// the classify stage's client at high concurrency vs one request at a time like the original client.
// The fake claims a TGI version (default 3.3.4, as the manifests deploy): the client detects it from
// /info and sends that version's response_format; the figures say whether every answer was constrained.
//   node --import tsx tools/bench/classify.ts [--videos 2000] [--latency-ms 200] [--capacity 128] [--concurrency 128] [--sequential-sample 50] [--tgi-version 3.3.4]
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ItemContext, Outcome } from '@finevideo/core';
import { orderedPool } from '@finevideo/runtime';
import { FileStore } from '@finevideo/storage';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { classifyParams, classifyStage, type ClassifyItem, type ClassifyParams } from '@finevideo/stages/classify';

const { values } = parseArgs({
  options: {
    videos: { type: 'string', default: '2000' },
    'latency-ms': { type: 'string', default: '200' },
    capacity: { type: 'string', default: '128' },
    concurrency: { type: 'string', default: '128' },
    'sequential-sample': { type: 'string', default: '50' },
    'tgi-version': { type: 'string', default: '3.3.4' },
  },
});
const videos = Number(values.videos);
const server = spawn(process.execPath, ['--import', 'tsx', 'tools/bench/fake-tgi-server.ts', values['latency-ms']!, values.capacity!, values['tgi-version']!], { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
const tgi = JSON.parse(line) as { url: string; baseURL: string };
const dir = await mkdtemp(join(tmpdir(), 'bench-classify-'));

const item = (i: number): ClassifyItem => ({
  video_id: `v${String(i).padStart(10, '0')}`, title: `video ${i} about cooking and travel`, channel: `channel ${i % 50}`, tags: 'a, b',
  transcript: 'word '.repeat(1000), duration_seconds: 300, view_count: i, like_count: i, comment_count: i, channel_follower_count: i,
});

const serverLines: string[] = [];

async function run(count: number, concurrency: number): Promise<{ seconds: number; kept: number; constrained: number; rejected: number; tokens: number }> {
  const params = classifyParams.parse({ method: 'llm', endpoint: tgi.baseURL, concurrency, waitForHealthSeconds: 5 });
  let tokens = 0;
  let rejected = 0;
  const ctx: ItemContext<ClassifyParams> = {
    params, runId: 'bench', stageName: 'classify', store: new FileStore(dir), chunkIndex: 0, attempt: 1, tmpDir: dir,
    signal: new AbortController().signal,
    log: { info: (m) => { if (m.startsWith('model server at')) serverLines.push(m); }, warn: () => undefined, error: () => undefined },
    count: (name, n = 1) => {
      if (name.endsWith('_tokens')) tokens += n;
      if (name === 'response_format_rejected') rejected += n;
    },
  };
  let kept = 0;
  let constrained = 0;
  const start = process.hrtime.bigint();
  await orderedPool(Array.from({ length: count }, (_, i) => item(i)), classifyStage.itemConcurrency(params), async (it) => (await classifyStage.processItem(it, ctx)) as Outcome, (o) => {
    if (o.status === 'kept') kept++;
    if ('row' in o && o.row?.constrained === true) constrained++;
  });
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, kept, constrained, rejected, tokens };
}

const sample = Number(values['sequential-sample']);
// One request at a time would take ~400 s for 2,000 videos: it is measured on a sample and extrapolated.
const sequential = await run(sample, 1);
const concurrent = await run(videos, Number(values.concurrency));
const seqPerSecond = sample / sequential.seconds;
const ourPerSecond = videos / concurrent.seconds;
console.log(`fake TGI ${values['tgi-version']} (own process): ${values['latency-ms']} ms per request, ${values.capacity} served at once`);
if (serverLines[0]) console.log(serverLines[0].replace(/^model server at \S+: /, 'detected: '));
console.log('client                                   videos    wall s   videos/s');
console.log(`one request at a time (original)       ${String(sample).padStart(7)} ${sequential.seconds.toFixed(2).padStart(9)} ${seqPerSecond.toFixed(1).padStart(10)}   (${videos} videos: ~${(videos / seqPerSecond).toFixed(0)} s, extrapolated)`);
console.log(`finevideo classify, ${values.concurrency} in flight      ${String(videos).padStart(7)} ${concurrent.seconds.toFixed(2).padStart(9)} ${ourPerSecond.toFixed(1).padStart(10)}`);
console.log(`speed-up: ${(ourPerSecond / seqPerSecond).toFixed(1)}x; every video classified: ${concurrent.kept === videos}; constrained answers: ${concurrent.constrained} of ${videos}; response_format refused: ${concurrent.rejected + sequential.rejected}; tokens counted: ${concurrent.tokens}`);
server.kill('SIGTERM');
await rm(dir, { recursive: true, force: true });
