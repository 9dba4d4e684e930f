import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, writeParquetRows } from '@finevideo/storage';
import { startFakeTgi, type FakeTgi } from '@finevideo/testing';
import { keptYtCommonsRow, runCliAsync } from './helpers.js';

const WRONG_KEY = 'sk-wrong-key-Zq81x';
const RIGHT_KEY = 'sk-right-key-Pw72y';

/** Every file under a folder, as text (the run's whole store), to look for a leaked key. */
async function allText(dir: string): Promise<string> {
  let text = '';
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) text += (await readFile(join(entry.parentPath, entry.name))).toString('latin1');
  }
  return text;
}

describe('finevideo CLI: a wrong model API key, tried as a new user would', function () {
  this.timeout(300_000);
  let dir: string;
  let tgi: FakeTgi;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-wrong-key-'));
    // TGI started with --api-key: its Messages API answers 401 to any other key.
    tgi = await startFakeTgi({ apiKey: RIGHT_KEY, latencyMs: 5 });
    await writeParquetRows(new FileStore(join(dir, 'shards')), 'part-0.parquet', Array.from({ length: 12 }, (_, i) => keptYtCommonsRow(0, i)));
    await writeFile(join(dir, 'p.yaml'), [
      'name: wrongkey', `storage: ${join(dir, 'store')}`, 'executor: { kind: local, parallelism: 2, retries: 1, retryBackoffSeconds: 0 }', 'stages:',
      '  - stage: ytcommons', `    params: { source: ${join(dir, 'shards')} }`,
      '  - stage: worddensity',
      '  - stage: classify', `    params: { endpoint: "${tgi.baseURL}", apiKeyEnv: FINEVIDEO_TEST_MODEL_KEY, waitForHealthSeconds: 10, maxRetries: 1, retryBaseDelayMs: 1 }`,
      '    itemsPerChunk: 6',
    ].join('\n'));
  });
  after(async () => {
    await tgi?.close();
    if (dir && !process.env.KEEP) await rm(dir, { recursive: true, force: true });
  });

  it('fails the classify chunks naming the endpoint and the status (never the key); resume with the right key finishes the stage', async () => {
    const failed = await runCliAsync(['run', join(dir, 'p.yaml'), '--run-id', 'k1'], { FINEVIDEO_TEST_MODEL_KEY: WRONG_KEY });
    const said = failed.stdout + failed.stderr;
    assert.equal(failed.code, 1, said);
    assert.match(said, /stage classify: 2 chunk\(s\) failed/);
    assert.match(said, new RegExp(`${tgi.baseURL.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/chat/completions: HTTP 401`));
    assert.match(said, /exit code 42 \(not retryable\)/, 'a refused key is not retried');
    assert.ok(!said.includes(WRONG_KEY), 'the key is never printed');
    const runDir = join(dir, 'store', 'runs', 'k1');
    assert.ok(!(await allText(runDir)).includes(WRONG_KEY), 'the key is nowhere in the run folder (logs, markers, rows)');
    assert.equal(existsSync(join(runDir, 'classify', 'table.json')), false);
    assert.equal(existsSync(join(runDir, 'classify', 'done')) ? (await readdir(join(runDir, 'classify', 'done'))).length : 0, 0, 'no chunk counts as done');

    const resumed = await runCliAsync(['resume', runDir], { FINEVIDEO_TEST_MODEL_KEY: RIGHT_KEY });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const table = JSON.parse(await readFile(join(runDir, 'classify', 'table.json'), 'utf8')) as { stats: { items: number; kept: number; errors: number } };
    assert.equal(table.stats.items, 12);
    assert.equal(table.stats.errors, 0);
    assert.equal(table.stats.kept, 12, 'the fake answers every video with a leaf');
  });
});
