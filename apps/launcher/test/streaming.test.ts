import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { createLogger, createRun, runChunk, runPipeline, type Executor, type StageRunRequest, type StageRunResult } from '@finevideo/runtime';
import { planCommand, renderCommand, statusCommand } from '../src/commands.js';
import { estimateScale, formatScaleEstimate, parseNodes } from '../src/plan-scale.js';
import { resolveStreamingStage } from '../../../libs/runtime/test/fixtures/streaming-stages.js';

const FULL_PIPELINE = (storage: string) => `name: scale
storage: ${storage}
streaming: true
executor: { kind: kubernetes, parallelism: 2000 }
stages:
  - stage: ytcommons
    params: { source: /data/youtube-commons }
  - stage: worddensity
  - stage: download
  - stage: dynamism
  - stage: classify
    params: { endpoint: http://tgi.finevideo.svc/v1 }
  - stage: select
    params: { targetHours: 3425 }
  - stage: annotate
  - stage: align
  - stage: anomaly
`;

describe('streaming in the launcher', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-launcher-streaming-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('plan --estimate prints the table for 2,000,000 videos: chunks and Jobs within Indexed Job limits, pods, pod-hours, cost, both wall times', async () => {
    const path = join(dir, 'scale.yaml');
    await writeFile(path, FULL_PIPELINE(join(dir, 'store')));
    const result = await planCommand(path, { estimate: true, videos: '2000000', hours: '3425', nodes: 'cpu=40,gpu=4' });
    assert.equal(result.exitCode, 0);
    const lines = result.output.split('\n');
    for (const stage of ['ytcommons', 'worddensity', 'download', 'dynamism', 'classify', 'select', 'annotate', 'align', 'anomaly']) {
      assert.ok(lines.some((l) => l.startsWith(stage)), `a row for ${stage}`);
    }
    assert.match(result.output, /wall time: [\d.]+ h stage by stage, [\d.]+ h streaming; bottleneck: \w+/);
    assert.match(result.output, /annotate: expected cost: about \$\d+/);
    const estimate = await estimateScale(parsePipelineConfig(FULL_PIPELINE(join(dir, 'store'))), { videos: 2_000_000, hours: 3425, cluster: parseNodes('cpu=40,gpu=4') });
    assert.ok(estimate.wallHoursStreaming < estimate.wallHoursStageByStage, 'streaming overlaps download with dynamism');
    assert.equal(estimate.stages.find((s) => s.stage === 'download')?.pool, 'network');
    await assert.rejects(planCommand(path, { estimate: true }), /--videos: expected the number of source videos/);
    await assert.rejects(planCommand(path, { estimate: true, videos: '2000000', nodes: 'cpu=lots' }), /--nodes: expected "cpu=<n>,gpu=<n>", got "cpu=lots"/);
  });

  it('plan --estimate: every number of a two-stage table matches the hand computation from its stated inputs', async () => {
    // Inputs: 250,000 videos; 10 CPU nodes of 16 vCPU, no GPU; Kubernetes parallelism 300 per Job.
    // download: 2 items per chunk, 1 vCPU, network pool (4 pods per vCPU), 40 pod-s per video, keeps 90%, 25 MB per kept video.
    // dynamism: 50 items per chunk (its default), 2 vCPU, CPU pool, 25 pod-s per video, keeps 65%, 300 B per kept video.
    const yaml = `name: hand\nstorage: ${join(dir, 'store')}\nstreaming: true\nexecutor: { kind: kubernetes, parallelism: 300 }\nstages:\n  - stage: download\n    itemsPerChunk: 2\n  - stage: dynamism\n`;
    const estimate = await estimateScale(parsePipelineConfig(yaml), { videos: 250_000, cluster: { cpu: 10, gpu: 0 } });
    const [download, dynamism] = estimate.stages;
    // download: 125,000 chunks need two Indexed Jobs (100,000 completions at most each); pods: the
    // network pool holds 10*16*4 = 640, two Jobs of parallelism 300 run 600 of them.
    assert.deepEqual(
      { items: download!.items, kept: download!.kept, chunks: download!.chunks, jobs: download!.jobs, pods: download!.pods, poolPods: download!.poolPods, pool: download!.pool },
      { items: 250_000, kept: 225_000, chunks: 125_000, jobs: 2, pods: 600, poolPods: 640, pool: 'network' },
    );
    assert.ok(Math.abs(download!.podHours - 2777.78) < 0.01, `download pod-hours 250,000*40/3600 = 2777.78, got ${download!.podHours}`);
    assert.ok(Math.abs(download!.wallHours - 4.6296) < 0.0001, `download wall 2777.78/600 = 4.6296 h, got ${download!.wallHours}`);
    assert.equal(download!.bytesWritten, 225_000 * 25e6);
    // dynamism: 225,000 kept videos in chunks of 50 = 4,500 chunks, one Job; the CPU pool holds 10*16/2 = 80 pods.
    assert.deepEqual(
      { items: dynamism!.items, kept: dynamism!.kept, chunks: dynamism!.chunks, jobs: dynamism!.jobs, pods: dynamism!.pods, poolPods: dynamism!.poolPods, streamed: dynamism!.streamed },
      { items: 225_000, kept: 146_250, chunks: 4500, jobs: 1, pods: 80, poolPods: 80, streamed: true },
    );
    assert.equal(dynamism!.podHours, 1562.5, '225,000*25/3600');
    assert.equal(dynamism!.wallHours, 19.53125, '1562.5/80');
    assert.equal(dynamism!.bytesWritten, 146_250 * 300);
    // Stage by stage: 4.6296 + 19.5313; streaming: the pools differ, so the slower stage alone.
    assert.ok(Math.abs(estimate.wallHoursStageByStage - 24.1609) < 0.0001, `got ${estimate.wallHoursStageByStage}`);
    assert.equal(estimate.wallHoursStreaming, 19.53125);
    assert.equal(estimate.bottleneck, 'dynamism');
    // The printed table shows the same figures.
    const table = formatScaleEstimate(estimate).split('\n');
    assert.match(table.find((l) => l.startsWith('download')) ?? '', /^download\s+network\s+250\.0k\s+225\.0k\s+125\.0k\s+2\s+600\s+2777\.8\s+4\.63\s+5\.6 TB\s+default$/);
    assert.match(table.find((l) => l.startsWith('dynamism')) ?? '', /^dynamism \(follows\)\s+cpu\s+225\.0k\s+146\.3k\s+4500\s+1\s+80\s+1562\.5\s+19\.53\s+43\.9 MB\s+default$/);
    assert.ok(table.includes('wall time: 24.2 h stage by stage, 19.5 h streaming; bottleneck: dynamism'), table.join('\n'));
  });

  it('status shows every stage of a streamed run with its chunks done while they overlap', async () => {
    const store = new FileStore(dir);
    const config = parsePipelineConfig(`name: s\nstorage: ${dir}\nstreaming: true\nexecutor: { kind: local, parallelism: 1, retries: 0 }\nstages:\n  - stage: numbers\n    params: { upTo: 60 }\n  - stage: fetch\n  - stage: measure\n  - stage: total\n`);
    const manifest = await createRun(config, store, 'r');
    const controller = new AbortController();
    let finished = 0;
    const executor: Executor = {
      kind: 'local',
      async runStage(request: StageRunRequest): Promise<StageRunResult> {
        const result: StageRunResult = { succeeded: [], failed: [] };
        for (const index of request.indexes) {
          if (controller.signal.aborted) {
            result.failed.push({ index, reason: 'cancelled' });
            continue;
          }
          await runChunk(resolveStreamingStage(request.stageType), { store, runId: request.runId, stageName: request.stageName, chunkIndex: index, attempt: 1, log: createLogger({}, false) });
          result.succeeded.push(index);
          if (++finished === 9) controller.abort();
        }
        return result;
      },
    };
    await runPipeline(manifest, { store, log: createLogger({}, false), resolveStage: resolveStreamingStage, executor, workerEnv: {}, signal: controller.signal });
    const status = await statusCommand(dir.startsWith('/') ? `${dir}/runs/r` : dir, {});
    const row = (stage: string) => status.output.split('\n').find((l) => l.trimStart().startsWith(stage)) ?? '';
    const chunks = (stage: string) => /(\d+)\/(\d+)/.exec(row(stage))?.slice(1).map(Number);
    const numbers = chunks('numbers')!;
    const fetch = chunks('fetch')!;
    assert.ok(numbers[0]! > 0 && numbers[0]! < numbers[1]!, `numbers part done: ${row('numbers')}`);
    assert.ok(fetch[0]! > 0 && fetch[0]! < fetch[1]!, `fetch part done at the same time: ${row('fetch')}`);
    assert.match(status.output, /incomplete/);
    // kubectl cannot drive a stage whose chunks are listed as its upstream's finish: render refuses it (exit 2, a ConfigError).
    await assert.rejects(renderCommand(`${dir}/runs/r`, {}), (e: Error) => e.name === 'ConfigError' && /render: stage fetch of run r was planned streaming from numbers/.test(e.message));
  });
});
