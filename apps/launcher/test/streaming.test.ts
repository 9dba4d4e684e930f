import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { createLogger, createRun, runChunk, runPipeline, type Executor, type StageRunRequest, type StageRunResult } from '@finevideo/runtime';
import { planCommand, renderCommand, statusCommand } from '../src/commands.js';
import { estimateScale, parseNodes } from '../src/plan-scale.js';
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
    for (const s of estimate.stages) assert.ok(s.chunks / s.jobs <= 100_000, `${s.stage}: at most 100,000 completions per Job`);
    assert.ok(estimate.wallHoursStreaming < estimate.wallHoursStageByStage, 'streaming overlaps download with dynamism');
    assert.equal(estimate.stages.find((s) => s.stage === 'download')?.pool, 'network');
    await assert.rejects(planCommand(path, { estimate: true }), /--videos: expected the number of source videos/);
    await assert.rejects(planCommand(path, { estimate: true, videos: '2000000', nodes: 'cpu=lots' }), /--nodes: expected "cpu=<n>,gpu=<n>", got "cpu=lots"/);
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
