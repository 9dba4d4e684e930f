import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_PRICES } from '@finevideo/stages/annotate';
import { generateVideo, generateYtCommonsShards, startFakeGemini, startVideoServer, type FakeGemini, type VideoServer } from '@finevideo/testing';
import { runCliAsync, startCli } from './helpers.js';

const KEY_ENV = 'FINEVIDEO_TEST_GEMINI_KEY';
const ANSWER_MS = 6_000;

/** Size, mtime and sha256 of every file under a folder, by path. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const s = await stat(path);
    files.set(relative(root, path), `${s.size} ${s.mtimeMs} ${createHash('sha256').update(await readFile(path)).digest('hex')}`);
  }
  return files;
}

function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/**
 * Issue 19 §2: the launcher dies with `kill -9` while annotate's model calls are in flight and is resumed
 * at once. Its workers must not go on beside the resumed run: one answer per video, the cost printed is what
 * the model billed, and nothing under the store changes once the resumed run has ended.
 */
describe('kill -9 of the launcher mid-annotate, resumed at once', function () {
  this.timeout(240_000);
  let dir: string;
  let server: VideoServer | undefined;
  let gemini: FakeGemini | undefined;
  after(async () => {
    await server?.close();
    await gemini?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('one answer per video at the fake, the printed cost equals its usage, no file changes after the resumed run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-kill-annotate-'));
    const { dense } = await generateYtCommonsShards(join(dir, 'shards'), { shards: 1, rowsPerShard: 8, seed: 7, averageTextBytes: 1200 });
    const ids = dense.slice(0, 4);
    assert.equal(ids.length, 4, `enough videos pass the filters: ${dense.length}`);
    server = await startVideoServer();
    for (const id of dense) {
      const file = join(dir, `${id}.mp4`);
      await generateVideo(file, { sections: [{ kind: 'motion', seconds: 4 }], fps: 2 });
      server.addVideo(id, file);
    }
    gemini = await startFakeGemini({ latencyMs: ANSWER_MS, processingPolls: 0 });
    const store = join(dir, 'store');
    const pipeline = join(dir, 'p.yaml');
    await writeFile(pipeline, [
      'name: killed', `storage: ${store}`, 'executor: { kind: local, parallelism: 2, retries: 1 }', 'stages:',
      `  - { stage: ytcommons, params: { source: ${join(dir, 'shards')} } }`,
      '  - { stage: worddensity }',
      `  - { stage: download, params: { sourceUrlTemplate: "${server.template}", retries: 1, retryBaseDelayMs: 50 }, itemsPerChunk: 4 }`,
      `  - { stage: annotate, itemsPerChunk: 2, params: { geminiBaseUrl: "${gemini.baseUrl}", geminiApiKeyEnv: ${KEY_ENV}, model: gemini-2.5-flash, filePollMs: 5 } }`,
    ].join('\n'));
    const env = { [KEY_ENV]: gemini.apiKey };

    const first = startCli(['run', pipeline, '--run-id', 'k1'], env);
    const exited = once(first.child, 'exit');
    try {
      // Kill while the model is answering and before any answer came back: nothing of annotate is paid yet.
      for (const start = Date.now(); gemini.stats.generateTotal < 2; await sleep(50)) {
        assert.ok(Date.now() - start < 150_000, 'annotate never called the model');
        assert.equal(first.child.exitCode, null, 'the first run ended before annotate was under way');
      }
      assert.equal(gemini.stats.generateCalls.ok, 0, 'no answer came back before the kill');
      first.child.kill('SIGKILL'); // the launcher only: its workers are what is under test
      await exited;
    } catch (error) {
      first.killGroup();
      throw error;
    }

    const resumed = await runCliAsync(['resume', join(store, 'runs', 'k1')], env);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const ended = await snapshot(store);
    // Past the killed run's answers (6 s after their calls began) and the orphans' 3 s grace.
    await sleep(ANSWER_MS + 4_000);
    assert.deepEqual(changedFiles(ended, await snapshot(store)), [], 'no file of the store changed after the resumed run ended');

    const s = gemini.stats;
    assert.deepEqual(ids.map((id) => s.okByDisplayName.get(id) ?? 0), ids.map(() => 1), `one answer per video: ${JSON.stringify([...s.okByDisplayName])}, calls ${JSON.stringify(s.generateCalls)}\n${resumed.stdout}`);
    assert.equal(s.usage.responses, ids.length, 'the fake billed one answer per video');
    assert.deepEqual([...s.aliveFiles], [], 'every uploaded file deleted');
    // "spent $0.0218 for 14,732 input and 6,652 output tokens", or "spent $0: 4 cached annotation(s) reused".
    const cost = /^cost: annotate spent \$([\d.]+)(?: for ([\d,]+) input and ([\d,]+) output tokens)?/m.exec(resumed.stdout);
    assert.ok(cost, `expected the cost line, got:\n${resumed.stdout}`);
    const count = (text: string | undefined) => Number((text ?? '0').replaceAll(',', ''));
    assert.equal(count(cost[2]!), s.usage.promptTokenCount, 'printed input tokens are the fake\'s');
    const output = s.usage.candidatesTokenCount + s.usage.thoughtsTokenCount;
    assert.equal(count(cost[3]!), output, 'printed output tokens are the fake\'s');
    // Dollars at the default list price of the model, to the cents (or fractions) printed.
    const price = DEFAULT_PRICES['gemini-2.5-flash']!;
    const audio = s.usage.promptByModality.AUDIO ?? 0;
    const dollars = ((s.usage.promptTokenCount - audio) * price.input + audio * (price.inputByModality?.AUDIO ?? price.input) + output * price.output) / 1e6;
    const halfUnit = 0.5 * 10 ** -(cost[1]!.split('.')[1]?.length ?? 0);
    assert.ok(Math.abs(Number(cost[1]) - dollars) <= halfUnit + 1e-9, `printed $${cost[1]}, the fake's usage costs $${dollars}`);
  });
});
