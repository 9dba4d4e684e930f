/**
 * Streaming benchmark: the demo's media chain (ytcommons -> download -> dynamism) on generated videos
 * served through a throttling loopback proxy (latency per request, bandwidth per connection), run
 * stage by stage and streaming (download chunks in network slots while dynamism runs in CPU slots).
 *
 *   node --import tsx tools/bench/streaming.ts
 *   node --import tsx tools/bench/streaming.ts --videos 24 --latency-ms 400 --kbps 120 --items 2
 *
 * Flags: --videos (at most; the sample's English ids), --seconds (video length), --latency-ms (per
 * HTTP request), --kbps (KB/s per connection), --items (items per chunk of download and dynamism),
 * --cpu / --network (slots of the streaming run; the stage-by-stage run has --cpu chunks at once),
 * --dir (keep the videos there between runs).
 */
import { createServer, request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { parsePipelineConfig } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { LocalExecutor, createLogger, createRun, runPipeline, workerCommand, type StageOutcome } from '@finevideo/runtime';
import { stageByType } from '@finevideo/stages';
import { generateVideo, generateYtCommonsShards, startVideoServer } from '@finevideo/demo';

const { values: flags } = parseArgs({
  options: {
    videos: { type: 'string', default: '24' },
    seconds: { type: 'string', default: '30' },
    'latency-ms': { type: 'string', default: '400' },
    kbps: { type: 'string', default: '150' },
    items: { type: 'string', default: '2' },
    cpu: { type: 'string', default: '2' },
    network: { type: 'string', default: '4' },
    dir: { type: 'string' },
  },
});
const wanted = Number(flags.videos);
const latencyMs = Number(flags['latency-ms']);
const bytesPerSecond = Number(flags.kbps) * 1024;
const cpuSlots = Number(flags.cpu);
const networkSlots = Number(flags.network);

/**
 * A loopback HTTP proxy that behaves like a distant server: each request waits `latencyMs` before it
 * is forwarded, and each response body flows at most `bytesPerSecond` per connection.
 */
async function startThrottlingProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const server = createServer((req, res) => {
    void (async () => {
      await sleep(latencyMs);
      const forwarded = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, async (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const started = Date.now();
        let sent = 0;
        for await (const piece of answer as AsyncIterable<Buffer>) {
          // Slices of 16 KB, each sent when the byte budget so far allows it.
          for (let at = 0; at < piece.length; at += 16 * 1024) {
            const slice = piece.subarray(at, at + 16 * 1024);
            sent += slice.length;
            const due = started + (sent / bytesPerSecond) * 1000;
            if (due > Date.now()) await sleep(due - Date.now());
            if (!res.write(slice)) await new Promise((resolve) => res.once('drain', resolve));
          }
        }
        res.end();
      });
      forwarded.on('error', () => res.destroy());
      req.pipe(forwarded);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const work = await mkdtemp(join(tmpdir(), 'finevideo-bench-streaming-'));
const videoDir = flags.dir ?? join(work, 'videos');
await mkdir(videoDir, { recursive: true });
const sample = join(work, 'sample');
const expected = await generateYtCommonsShards(sample, { shards: 4, rowsPerShard: Math.max(8, Math.ceil(wanted / 2)), seed: 7, averageTextBytes: 1500 });
const ids = expected.english.slice(0, wanted);
const server = await startVideoServer();
const proxy = await startThrottlingProxy(server.url);
let bytes = 0;
for (const [i, id] of ids.entries()) {
  const file = join(videoDir, `${id}.mp4`);
  // Half move throughout, half are mostly a still picture (dynamism drops them), as in the demo.
  if (!existsSync(file)) {
    await generateVideo(file, i % 2 ? { sections: [{ kind: 'motion', seconds: Number(flags.seconds) }], fps: 8, audio: true }
      : { sections: [{ kind: 'motion', seconds: 3 }, { kind: 'still', seconds: Number(flags.seconds) - 3 }], fps: 8, audio: true });
  }
  bytes += (await stat(file)).size;
  server.addVideo(id, file);
}
const english = new Set(expected.english);
console.log(`streaming bench: ${ids.length} videos (${(bytes / 1024 ** 2).toFixed(1)} MB) of ${english.size} English rows (the rest answer 404: error rows), ` +
  `served at ${flags['latency-ms']} ms latency and ${flags.kbps} KB/s per connection; ${flags.items} items per chunk; cpu slots ${cpuSlots}, network slots ${networkSlots}`);

const pipeline = (root: string, streaming: boolean) => `name: bench
storage: ${root}
executor: { kind: local, parallelism: ${cpuSlots}, retries: 0, slots: { cpu: ${cpuSlots}, network: ${networkSlots} } }
${streaming ? 'streaming: true\n' : ''}stages:
  - stage: ytcommons
    params: { source: ${sample} }
  - stage: download
    params: { sourceUrlTemplate: "${proxy.url}/watch?v={id}", retries: 0, retryBaseDelayMs: 100, concurrency: 2 }
    itemsPerChunk: ${flags.items}
  - stage: dynamism
    params: { mode: full, concurrency: 1 }
    itemsPerChunk: ${flags.items}
`;

async function timedRun(streaming: boolean): Promise<{ seconds: number; outcomes: StageOutcome[]; overlapSeconds: number }> {
  const root = join(work, streaming ? 'streamed' : 'staged');
  const store = new FileStore(root);
  const config = parsePipelineConfig(pipeline(root, streaming), 'bench pipeline', stageByType);
  const manifest = await createRun(config, store, streaming ? 'streamed' : 'staged');
  const executor = new LocalExecutor({ parallelism: cpuSlots, retries: 0, store });
  // Time with chunks of more than one stage running: the overlap streaming buys.
  const running = new Map<string, number>();
  let overlapSince: number | undefined;
  let overlapMs = 0;
  const started = Date.now();
  const outcomes = await runPipeline(manifest, {
    store, log: createLogger({}, false), resolveStage: stageByType, executor, workerEnv: {},
    onProgress: (stage, p) => {
      running.set(stage, p.running);
      const busy = [...running.values()].filter((n) => n > 0).length > 1;
      if (busy && overlapSince === undefined) overlapSince = Date.now();
      if (!busy && overlapSince !== undefined) {
        overlapMs += Date.now() - overlapSince;
        overlapSince = undefined;
      }
    },
  });
  return { seconds: (Date.now() - started) / 1000, outcomes, overlapSeconds: overlapMs / 1000 };
}

const funnel = (outcomes: StageOutcome[]) => outcomes.map((o) => `${o.stage} ${o.stats.kept}/${o.stats.items}${o.failed.length ? ` (${o.failed.length} chunks failed)` : ''}`).join(', ');
try {
  // The stage apps are built before timing, so neither run pays for it.
  for (const type of ['ytcommons', 'download', 'dynamism']) workerCommand(type);
  const staged = await timedRun(false);
  console.log(`stage by stage: ${staged.seconds.toFixed(1)} s (${funnel(staged.outcomes)})`);
  const streamed = await timedRun(true);
  console.log(`streaming:      ${streamed.seconds.toFixed(1)} s (${funnel(streamed.outcomes)}; stages overlapped for ${streamed.overlapSeconds.toFixed(1)} s)`);
  const ratio = streamed.seconds / staged.seconds;
  console.log(`ratio: ${ratio.toFixed(2)}x (goal <= 0.6x)`);
  console.log(JSON.stringify({ bench: 'streaming', videos: ids.length, latencyMs, kbps: Number(flags.kbps), itemsPerChunk: Number(flags.items), cpuSlots, networkSlots, stagedSeconds: +staged.seconds.toFixed(1), streamedSeconds: +streamed.seconds.toFixed(1), ratio: +ratio.toFixed(2) }));
} finally {
  await proxy.close();
  await server.close();
  await rm(work, { recursive: true, force: true });
}
