import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { planCommand } from '../src/commands.js';
import { estimateScale, measuredCost, parseNodes } from '../src/plan-scale.js';

const SMALL = (storage: string) => `name: small
storage: ${storage}
executor: { kind: kubernetes, parallelism: 3 }
stages:
  - stage: ytcommons
    params: { source: /data/youtube-commons }
    chunks: 5
  - stage: worddensity
    chunks: 2
`;
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9 * Math.max(1, expected), `${what}: expected ${expected}, got ${actual}`);

describe('plan --estimate: numbers checked by hand, bad sizes refused', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-plan-estimate-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('the table of a small pipeline matches a hand-computed example (default per-item costs)', async () => {
    const e = await estimateScale(parsePipelineConfig(SMALL(dir)), { videos: 100_000, cluster: parseNodes('cpu=1,gpu=1') });
    const [ytc, wd] = e.stages;
    // ytcommons: 100,000 rows at 0.0005 pod-s each, 45% kept, 400 bytes per kept row; 5 chunks, 3 pods (parallelism).
    assert.deepEqual([ytc!.items, ytc!.kept, ytc!.chunks, ytc!.jobs, ytc!.pods], [100_000, 45_000, 5, 1, 3]);
    close(ytc!.podHours, (100_000 * 0.0005) / 3600, 'ytcommons pod-hours');
    close(ytc!.wallHours, (100_000 * 0.0005) / 3600 / 3, 'ytcommons wall-hours');
    assert.equal(ytc!.bytesWritten, 45_000 * 400);
    // worddensity: 45,000 rows at 0.0002 pod-s, 70% kept, 120 bytes each; 2 chunks, so 2 pods.
    assert.deepEqual([wd!.items, wd!.kept, wd!.chunks, wd!.jobs, wd!.pods], [45_000, 31_500, 2, 1, 2]);
    close(wd!.podHours, (45_000 * 0.0002) / 3600, 'worddensity pod-hours');
    close(e.wallHoursStageByStage, (100_000 * 0.0005) / 3600 / 3 + (45_000 * 0.0002) / 3600 / 2, 'wall time stage by stage');
  });

  it("a bulk stage's measured cost is per row seen, not per shard (ytcommons: 2 shards, 4,000 rows in 4 s)", async () => {
    const store = new FileStore(dir);
    await store.put('runs/old-1/run.json', '{}');
    const stats = { items: 2, kept: 3000, dropped: 900, errors: 100, reasons: {} };
    await store.put('runs/old-1/ytcommons/done/0.json', JSON.stringify({ stats, durationMs: 4000 }));
    const measured = await measuredCost(store, 'ytcommons');
    assert.deepEqual(measured, { podSeconds: 4 / 4000, keep: 0.75 });
    const e = await estimateScale(parsePipelineConfig(SMALL(dir)), { videos: 2_000_000, cluster: parseNodes('cpu=1,gpu=1'), store });
    close(e.stages[0]!.podHours, (2_000_000 * 0.001) / 3600, 'ytcommons pod-hours from the measured cost');
    assert.equal(e.stages[0]!.source, 'measured');
  });

  it('zero nodes in a pool a stage needs, fractional or absurd --videos, bad --hours: refused naming the value', async () => {
    const path = join(dir, 'small.yaml');
    await writeFile(path, SMALL(dir));
    await assert.rejects(planCommand(path, { estimate: true, videos: '1000', nodes: 'cpu=0,gpu=4' }), /--nodes: stage ytcommons runs in the \w+ pool, which needs cpu nodes, got cpu=0/);
    for (const videos of ['2.5', '1e300', '-3', 'many']) {
      await assert.rejects(planCommand(path, { estimate: true, videos }), new RegExp(`--videos: expected a whole number from 1 to 1,000,000,000, got "${videos.replace('.', '\\.')}"`));
    }
    await assert.rejects(planCommand(path, { estimate: true, videos: '1000', hours: 'Infinity' }), /--hours: expected a number from 1 to 10,000,000, got "Infinity"/);
    const fine = await planCommand(path, { estimate: true, videos: '2_000_000', nodes: 'cpu=1,gpu=0' });
    assert.match(fine.output, /estimate for 2\.00M videos/, 'a pool no stage needs may be empty');
  });

  it('--hours and the annotate line agree: the hours select keeps, fewer than asked when fewer videos reach it', async () => {
    const path = join(dir, 'full.yaml');
    await writeFile(path, `name: full\nstorage: ${dir}\nexecutor: { kind: kubernetes, parallelism: 10 }\nstages:\n` +
      '  - stage: ytcommons\n    params: { source: /data/yt }\n  - stage: worddensity\n  - stage: download\n  - stage: dynamism\n' +
      '  - stage: classify\n    params: { endpoint: http://tgi.svc/v1 }\n  - stage: select\n  - stage: annotate\n');
    for (const [videos, hours] of [['2000000', '3425'], ['5000', '3425']] as const) {
      const r = await planCommand(path, { estimate: true, videos, hours, nodes: 'cpu=4,gpu=1' });
      const header = /videos, ([\d.]+) h selected/.exec(r.output)?.[1];
      const annotate = /^annotate: expected cost: .* for \d+ videos, ([\d.]+) h/m.exec(r.output)?.[1];
      assert.ok(header && annotate, r.output);
      assert.equal(header, annotate, `${videos} videos: the header and the annotate line name the same hours`);
      if (videos === '5000') assert.match(r.output, /of 3425 h asked: fewer videos reach select/);
    }
  });
});
