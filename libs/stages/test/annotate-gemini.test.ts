import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SystemicError, parsePipelineConfig, runLayout } from '@finevideo/core';
import { createRun, runChunk } from '@finevideo/runtime';
import { readParquetRows } from '@finevideo/storage';
import { contentMetadataSchema } from '@finevideo/dataset';
import { HOSTILE_KINDS, hostileAnnotation, sampleAnnotation, startFakeGemini, type FakeGemini } from '@finevideo/testing';
import { DEFAULT_PRICES, annotateStage, annotationLayout } from '@finevideo/stages/annotate';
import { annotateAll, itemOf, rowOf, storeWithVideos, videoId } from './annotate-helpers.js';

const KEY_ENV = 'FINEVIDEO_TEST_GEMINI_KEY';

/** Every file under a folder, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  return out.sort();
}

describe('stage annotate, gemini backend (fake Gemini API through the real @google/genai SDK)', function () {
  // Each video is checked whole (one ffprobe) before its upload: 100 of them on a busy 2-core machine need more than a minute.
  this.timeout(180_000);
  let fake: FakeGemini | undefined;
  beforeEach(() => {
    process.env[KEY_ENV] = 'fake-gemini-key';
  });
  afterEach(async () => {
    delete process.env[KEY_ENV];
    await fake?.close();
    fake = undefined;
  });
  const params = (extra: Record<string, unknown> = {}) => ({
    geminiBaseUrl: fake!.baseUrl, geminiApiKeyEnv: KEY_ENV, model: 'gemini-2.5-flash', filePollMs: 5, retryBaseDelayMs: 5, maxRetryDelayMs: 200, concurrency: 16, ...extra,
  });

  // FAILED processing (once: uploaded again; twice: an error row by design) has its own test below.
  it('with 5% injected faults every video is annotated exactly once, every stored annotation passes the schema, every upload is deleted, and cost adds up to the reported usage', async () => {
    // 5% of calls faulted, decided by a hash of (video, call number) so the outcome does not depend on
    // the order concurrent requests arrive in; a bad answer only on a first call, so its repair can succeed.
    const hash = (text: string) => [...text].reduce((a, c) => (Math.imul(a, 31) + c.charCodeAt(0)) >>> 0, 17);
    const transient = ['429', '500', '503', 'slow'] as const;
    const all = [...transient, 'invalid-json', 'schema-invalid', 'truncated'] as const;
    fake = await startFakeGemini({
      faults: {
        rate: 1, kinds: [...all], slowMs: 10_000,
        decide: (r) => {
          const x = hash(`${r.files[0]!.displayName}:${r.attempt}:7`) % 1000;
          if (x >= 50) return undefined;
          const kinds = r.attempt === 1 ? all : transient;
          return kinds[x % kinds.length];
        },
      },
      latencyMs: [2, 20], thoughtsTokens: 50,
    });
    const n = 100;
    const { store, dir } = await storeWithVideos(n);
    const { out, counters } = await annotateAll(store, params({ requestTimeoutSec: 4 }), Array.from({ length: n }, (_, i) => itemOf(i)));
    assert.equal(out.length, n);
    assert.deepEqual(out.filter((o) => o.status !== 'kept').map((o) => ('reason' in o ? o.reason : o.status)), [], 'no error rows');
    const s = fake.stats;
    const injected = Object.values(s.faults).reduce((a, b) => a + b, 0);
    assert.ok(injected >= 3 && s.generateCalls.ok === n, `faults were injected: ${JSON.stringify(s.faults)}, ${JSON.stringify(s.generateCalls)}`);
    for (let i = 0; i < n; i++) {
      assert.equal(s.okByDisplayName.get(videoId(i)), 1, `${videoId(i)} answered once`);
      const text = await store.getText(annotationLayout(videoId(i)).annotation);
      assert.ok(text, `annotation of ${videoId(i)} stored`);
      contentMetadataSchema.parse(JSON.parse(text));
    }
    assert.deepEqual([...s.aliveFiles], [], 'every uploaded file deleted');
    assert.equal(counters.annotate_files_uploaded, s.uploads);
    assert.equal(counters.annotate_files_deleted, s.uploads);
    // Tokens: every 200 answer is billed (faulted ones too), and every one is counted.
    const rows = out.map(rowOf);
    const sum = (k: string) => rows.reduce((a, r) => a + Number(r[k] ?? 0), 0);
    assert.equal(sum('input_tokens'), s.usage.promptTokenCount);
    assert.equal(sum('output_tokens'), s.usage.candidatesTokenCount + s.usage.thoughtsTokenCount);
    assert.equal(sum('input_video_tokens'), s.usage.promptByModality.VIDEO ?? 0);
    assert.equal(sum('input_audio_tokens'), s.usage.promptByModality.AUDIO ?? 0);
    assert.equal(counters.annotate_input_tokens, s.usage.promptTokenCount);
    const price = DEFAULT_PRICES['gemini-2.5-flash']!;
    const audio = s.usage.promptByModality.AUDIO ?? 0;
    const expected = ((s.usage.promptTokenCount - audio) * price.input + audio * price.inputByModality!.AUDIO! + (s.usage.candidatesTokenCount + s.usage.thoughtsTokenCount) * price.output) / 1e6;
    assert.ok(Math.abs(sum('cost_usd') - expected) < 1e-9, `cost ${sum('cost_usd')} vs ${expected}`);
    assert.ok(Math.abs(counters.annotate_cost_microusd! - expected * 1e6) <= n, 'micro-dollar counter within rounding');
    // Nothing but our keys was written.
    const written = (await filesUnder(dir)).filter((f) => !f.startsWith('media/'));
    assert.equal(written.length, 2 * n);
    assert.ok(written.every((f) => /^annotations\/vid\d{8}\.(json|provenance\.json)$/.test(f)), written.join(', '));
  });

  it('through the worker runtime: a chunk writes parquet rows with token and cost columns and a marker whose counters add up', async () => {
    fake = await startFakeGemini();
    const { store } = await storeWithVideos(4);
    const config = parsePipelineConfig(`name: t\nstorage: ${store.uri}\nstages:\n  - stage: annotate\n    params: { geminiBaseUrl: "${fake.baseUrl}", geminiApiKeyEnv: ${KEY_ENV}, model: gemini-2.5-flash, filePollMs: 5 }\n`);
    await createRun(config, store, 'run-a');
    const layout = runLayout('run-a').stage('annotate');
    await store.put(layout.chunk(0), [0, 1, 2, 3].map((i) => JSON.stringify(itemOf(i))).join('\n'));
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    await runChunk(annotateStage, { store, runId: 'run-a', stageName: 'annotate', chunkIndex: 0, attempt: 1, log: quiet });
    const marker = JSON.parse((await store.getText(layout.done(0)))!) as { parts: string[]; stats: { kept: number; counters: Record<string, number> } };
    const rows: Record<string, unknown>[] = [];
    for (const part of marker.parts) for await (const row of readParquetRows(store, part)) rows.push(row);
    assert.deepEqual(rows.map((r) => [r.video_id, r.status, r.annotator, r.annotation_key]), [0, 1, 2, 3].map((i) => [videoId(i), 'kept', 'gemini', `annotations/${videoId(i)}.json`]));
    assert.equal(marker.stats.kept, 4);
    assert.equal(marker.stats.counters.annotate_input_tokens, fake.stats.usage.promptTokenCount);
    const cost = rows.reduce((a, r) => a + Number(r.cost_usd), 0);
    assert.ok(Math.abs(marker.stats.counters.annotate_cost_microusd! - cost * 1e6) <= 4);
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  it('the cache skips stored videos (no request), a different prompt or force asks again, and a baseline annotation never satisfies a gemini run', async () => {
    fake = await startFakeGemini();
    const { store } = await storeWithVideos(4);
    const items = [0, 1, 2, 3].map(itemOf);
    await annotateAll(store, params(), items.slice(0, 2));
    assert.equal(fake.stats.generateTotal, 2);
    const again = await annotateAll(store, params(), items);
    assert.equal(fake.stats.generateTotal, 4, 'only the two new videos were requested');
    assert.deepEqual(again.out.map((o) => rowOf(o).cached), [true, true, false, false]);
    assert.equal(again.counters.annotate_cached, 2);
    assert.equal(rowOf(again.out[0]!).cost_usd, 0);
    await annotateAll(store, params({ force: true }), items.slice(0, 1));
    assert.equal(fake.stats.generateTotal, 5, 'force asks again');
    await annotateAll(store, params({ prompt: 'Describe {title} as JSON.' }), items.slice(0, 1));
    assert.equal(fake.stats.generateTotal, 6, 'another prompt is another provenance');
    // A baseline provenance at the same key is not a gemini annotation.
    const prov = JSON.parse((await store.getText(annotationLayout(videoId(1)).provenance))!) as Record<string, unknown>;
    await store.put(annotationLayout(videoId(1)).provenance, JSON.stringify({ ...prov, key: 'baseline-key', backend: 'baseline' }));
    await annotateAll(store, params(), items.slice(1, 2));
    assert.equal(fake.stats.generateTotal, 7);
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  for (const wrongKeyStatus of [401, 403, 400] as const) {
    it(`a refused key (HTTP ${wrongKeyStatus}) fails the chunk: a SystemicError that is not retried, naming the variable, never the key`, async () => {
      fake = await startFakeGemini({ wrongKeyStatus });
      process.env[KEY_ENV] = 'sk-wrong-secret-value';
      const { store } = await storeWithVideos(1);
      await assert.rejects(annotateAll(store, params(), [itemOf(0)]), (e: unknown) => {
        assert.ok(e instanceof SystemicError, String(e));
        assert.equal(e.retryable, false);
        assert.match(e.message, new RegExp(`HTTP ${wrongKeyStatus} \\(the key in ${KEY_ENV} was refused\\)`));
        assert.doesNotMatch(e.message, /sk-wrong-secret-value/);
        return true;
      });
      assert.equal(await store.exists(annotationLayout(videoId(0)).annotation), false);
    });
  }

  it('a missing key and an unknown model fail the chunk before or at the first request', async () => {
    fake = await startFakeGemini();
    const { store } = await storeWithVideos(1);
    delete process.env[KEY_ENV];
    await assert.rejects(annotateAll(store, params(), [itemOf(0)]), (e: unknown) => e instanceof SystemicError && !e.retryable && /FINEVIDEO_TEST_GEMINI_KEY is unset/.test(e.message));
    assert.equal(fake.stats.uploadStarts, 0);
    process.env[KEY_ENV] = 'fake-gemini-key';
    await assert.rejects(annotateAll(store, params({ model: 'gemini-0-nonexistent' }), [itemOf(0)]), (e: unknown) => e instanceof SystemicError && !e.retryable && /404.*gemini-0-nonexistent/.test(e.message));
    assert.deepEqual([...fake.stats.aliveFiles], [], 'the upload was deleted even so');
  });

  it('an answer that stays schema-invalid after one repair is an error row, its raw answer kept at annotations/errors/<id>.json, nothing stored as an annotation', async () => {
    fake = await startFakeGemini({ answer: (r) => (r.attempt === 1 ? '{"title": "half' : JSON.stringify({ title: 'x', scenes: [] })) });
    const { store } = await storeWithVideos(1);
    const { out, counters } = await annotateAll(store, params(), [itemOf(0)]);
    assert.equal(out[0]!.status, 'error');
    assert.match((out[0] as { reason: string }).reason, /^schema-invalid: .*annotations\/errors\/vid00000000\.json/);
    assert.equal(fake.stats.generateTotal, 2, 'one repair');
    const kept = JSON.parse((await store.getText(annotationLayout(videoId(0)).error))!) as { raw: string; problems: string };
    assert.equal(kept.raw, JSON.stringify({ title: 'x', scenes: [] }));
    assert.match(kept.problems, /not JSON/);
    assert.equal(await store.exists(annotationLayout(videoId(0)).annotation), false);
    assert.equal(counters.annotate_schema_invalid, 1);
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  it('a repair sends the problems back (invalid), or asks again concisely (cut off), and the repaired answer is stored', async () => {
    const seen: { id: string; prompt: string }[] = [];
    fake = await startFakeGemini({
      answer: (r) => {
        const id = r.files[0]!.displayName!;
        seen.push({ id, prompt: r.prompt });
        if (r.attempt === 1 && id === videoId(0)) return JSON.stringify({ title: 'no scenes' });
        if (r.attempt === 1 && id === videoId(1)) return { text: '{"title": "cut', finishReason: 'MAX_TOKENS' };
        return JSON.stringify(sampleAnnotation({ durationSeconds: 6 }));
      },
    });
    const { store } = await storeWithVideos(2);
    const { out } = await annotateAll(store, params(), [itemOf(0), itemOf(1)]);
    assert.deepEqual(out.map((o) => o.status), ['kept', 'kept']);
    assert.deepEqual(out.map((o) => rowOf(o).repaired), [true, true]);
    const second = (id: string) => seen.filter((s) => s.id === id)[1]!.prompt;
    assert.match(second(videoId(0)), /does not match the required JSON schema/);
    assert.match(second(videoId(0)), /scenes/);
    assert.match(second(videoId(1)), /Be concise/);
    assert.doesNotMatch(second(videoId(1)), /does not match/);
  });

  it('an upload that ends FAILED once is uploaded again and annotated', async () => {
    const seen = new Set<string>();
    fake = await startFakeGemini({ fileState: (f) => (seen.has(f.displayName!) ? 'ACTIVE' : (seen.add(f.displayName!), 'FAILED')) });
    const { store } = await storeWithVideos(3);
    const { out, counters } = await annotateAll(store, params(), [0, 1, 2].map(itemOf));
    assert.deepEqual(out.map((o) => o.status), ['kept', 'kept', 'kept']);
    assert.equal(fake.stats.uploads, 6);
    assert.equal(counters.annotate_file_failed_retries, 3);
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  it('an upload that ends FAILED is uploaded once more; FAILED twice is an error row; both files deleted', async () => {
    fake = await startFakeGemini({ fileState: () => 'FAILED' });
    const { store } = await storeWithVideos(1);
    const { out } = await annotateAll(store, params(), [itemOf(0)]);
    assert.equal(out[0]!.status, 'error');
    assert.match((out[0] as { reason: string }).reason, /^gemini-file-failed: /);
    assert.equal(fake.stats.uploads, 2);
    assert.equal(fake.stats.generateTotal, 0);
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  it('an abort during generateContent still deletes the uploaded file', async () => {
    fake = await startFakeGemini({ latencyMs: 30_000 });
    const { store } = await storeWithVideos(2);
    const abort = new AbortController();
    const started = annotateAll(store, params(), [itemOf(0), itemOf(1)], abort.signal);
    while (fake.stats.generateTotal < 2) await new Promise((r) => setTimeout(r, 10));
    abort.abort(new Error('chunk cancelled'));
    await assert.rejects(started);
    for (let i = 0; i < 100 && fake.stats.aliveFiles.size; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(fake.stats.uploads, 2);
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });

  it('hostile model output (8 MB strings, 100,000-deep nesting, injected ids, extra keys...) never reaches a path; each answer is kept or refused as the fixture says it should be', async () => {
    const kinds = [...HOSTILE_KINDS];
    // The fixture's defaults: an 8 MiB description and a 1 MiB title, arrays nested 100,000 deep.
    const hostile = kinds.map((kind) => hostileAnnotation(kind, { durationSeconds: 6 }));
    fake = await startFakeGemini({ answer: (r) => hostile[Number(r.files[0]!.displayName!.slice(3))]!.text });
    const { store, dir } = await storeWithVideos(kinds.length);
    // The cap sits above the huge answer, so its strings are parsed and validated, not cut before.
    const { out } = await annotateAll(store, params({ maxAnswerChars: 16 * 1024 * 1024, concurrency: 2 }), kinds.map((_, i) => itemOf(i)));
    assert.equal(out.length, kinds.length);
    for (const [i, o] of out.entries()) {
      const { kind, schemaValid } = hostile[i]!;
      // A fenced answer is unfenced before parsing: its JSON is a valid annotation.
      const expected = schemaValid || kind === 'fenced' ? 'kept' : 'error';
      assert.equal(o.status, expected, `${kind}: ${JSON.stringify(o).slice(0, 300)}`);
      const stored = await store.getText(annotationLayout(videoId(i)).annotation);
      if (o.status === 'kept') {
        const annotation = contentMetadataSchema.parse(JSON.parse(stored!));
        if (kind === 'huge-strings') assert.equal(annotation.description.length, 8 * 1024 * 1024);
        if (kind === 'injected-ids') assert.equal(annotation.characterList[0]!.characterId, '../../etc/passwd', 'kept as data, never used as a path');
      } else {
        assert.equal(stored, undefined);
        assert.match((o as { reason: string }).reason, /^schema-invalid/, kind);
      }
    }
    const written = (await filesUnder(dir)).filter((f) => !f.startsWith('media/'));
    assert.ok(written.every((f) => /^annotations\/(errors\/)?vid\d{8}\.(json|provenance\.json)$/.test(f)), written.join(', '));
    assert.deepEqual([...fake.stats.aliveFiles], []);
  });
});
