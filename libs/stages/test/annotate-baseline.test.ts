import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mediaLayout } from '@finevideo/core';
import { contentMetadataSchema } from '@finevideo/dataset';
import { FileStore } from '@finevideo/storage';
import { generateVideo } from '@finevideo/testing';
import { BASELINE_LABEL, annotationLayout, baselineAnnotation, parseVtt } from '@finevideo/stages/annotate';
import { annotateAll, rowOf } from './annotate-helpers.js';

const VTT = `WEBVTT

00:00:00.500 --> 00:00:02.000
<c>Welcome</c> to the kitchen.

00:00:02.000 --> 00:00:03.500
Welcome to the kitchen.
First we chop onions.

00:00:05.000 --> 00:00:06.500
Now the pan is hot.
`;

describe('stage annotate, baseline annotator (no model)', function () {
  this.timeout(60_000);

  it('parses VTT cues, keeping only the new lines of rolling captions and dropping markup', () => {
    assert.deepEqual(parseVtt(VTT).map((c) => [c.startSeconds, c.text]), [[0.5, 'Welcome to the kitchen.'], [2, 'First we chop onions.'], [5, 'Now the pan is hot.']]);
  });

  it('builds a schema-valid annotation from cuts, metadata and transcript lines, leaving what it cannot know empty', () => {
    const a = baselineAnnotation({ title: 'T', description: 'D' }, [{ start: 0, end: 4 }, { start: 4, end: 7.25 }], parseVtt(VTT));
    contentMetadataSchema.parse(a);
    assert.equal(a.title, 'T');
    assert.deepEqual(a.scenes.map((s) => s.timestamps), [{ start_timestamp: '00:00:00.000', end_timestamp: '00:00:04.000' }, { start_timestamp: '00:00:04.000', end_timestamp: '00:00:07.250' }]);
    assert.deepEqual(a.scenes.map((s) => s.narrativeProgression.map((n) => n.timestamp)), [['00:00:00.500', '00:00:02.000'], ['00:00:05.000']]);
    assert.deepEqual(a.scenes[1]!.videoEditingDetails, [{ description: 'cut (detected)', timestamps: { start_timestamp: '00:00:04.000', end_timestamp: '00:00:04.000' } }]);
    assert.deepEqual([a.characterList, a.qAndA, a.trimmingSuggestions, a.scenes[0]!.cast, a.scenes[0]!.activities], [[], [], [], [], []]);
    assert.equal(a.scenes[0]!.mood.description, '');
    assert.equal(a.scenes[0]!.dynamismScore, 0);
  });

  it('on generated videos with cuts: scenes from real detection, every row and counter labelled, and a re-run costs nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annotate-baseline-'));
    const id = 'baseline001';
    const video = join(dir, mediaLayout(id).video);
    await mkdir(dirname(video), { recursive: true });
    // Three still pictures of different colours: two hard cuts, at 3 s and 5 s.
    await generateVideo(video, { sections: [{ kind: 'still', seconds: 3 }, { kind: 'motion', seconds: 2 }, { kind: 'still', seconds: 2 }], fps: 5, audio: true });
    const store = new FileStore(dir);
    await store.put(mediaLayout(id).subtitles, VTT);
    const item = { video_id: id, duration_seconds: 7, title: 'Cooking onions', description: 'How to cook onions', transcript: '' };
    const { out, counters } = await annotateAll(store, { backend: 'baseline' }, [item]);
    assert.equal(out[0]!.status, 'kept', JSON.stringify(out[0]));
    const row = rowOf(out[0]!);
    assert.equal(row.annotator, BASELINE_LABEL);
    assert.equal(row.cost_usd, 0);
    assert.equal(counters.baseline_annotator_items, 1);
    const a = contentMetadataSchema.parse(JSON.parse((await store.getText(annotationLayout(id).annotation))!));
    assert.ok(a.scenes.length >= 2, `cuts found: ${JSON.stringify(a.scenes.map((s) => s.timestamps))}`);
    assert.equal(a.title, 'Cooking onions');
    assert.equal(a.scenes[0]!.timestamps.start_timestamp, '00:00:00.000');
    assert.equal(a.scenes.flatMap((s) => s.narrativeProgression).length, 3);
    const provenance = JSON.parse((await store.getText(annotationLayout(id).provenance))!) as { annotator: string; backend: string };
    assert.deepEqual([provenance.annotator, provenance.backend], [BASELINE_LABEL, 'baseline']);
    const again = await annotateAll(store, { backend: 'baseline' }, [item]);
    assert.equal(rowOf(again.out[0]!).cached, true);
    assert.equal(again.counters.baseline_annotator_items, 1, 'a cached baseline row is still labelled');
  });

  it('a stored annotation is checked before reuse: a damaged one (schema, provenance, the two disagreeing) is requested again; a failed request is an error row, never a cached kept row', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annotate-cache-'));
    const id = 'cacheCheck1';
    const video = join(dir, mediaLayout(id).video);
    await mkdir(dirname(video), { recursive: true });
    await generateVideo(video, { sections: [{ kind: 'still', seconds: 2 }, { kind: 'motion', seconds: 2 }], fps: 5 });
    const store = new FileStore(dir);
    const item = { video_id: id, duration_seconds: 4, title: 'Cache', description: 'check', transcript: '' };
    const keys = annotationLayout(id);
    assert.equal((await annotateAll(store, { backend: 'baseline' }, [item])).out[0]!.status, 'kept');
    const good = (await store.getText(keys.annotation))!;
    const provenance = JSON.parse((await store.getText(keys.provenance))!) as Record<string, unknown>;
    const damages: [string, () => Promise<void>][] = [
      ['annotation truncated', () => store.put(keys.annotation, good.slice(0, 40))],
      ['annotation off the schema', () => store.put(keys.annotation, JSON.stringify({ ...JSON.parse(good), scenes: [] }))],
      ['provenance off its schema', () => store.put(keys.provenance, JSON.stringify({ ...provenance, scenes: 'many' }))],
      ['scene counts disagree', () => store.put(keys.provenance, JSON.stringify({ ...provenance, scenes: 9 }))],
    ];
    for (const [name, damage] of damages) {
      await damage();
      const again = await annotateAll(store, { backend: 'baseline' }, [item]);
      assert.equal(again.out[0]!.status, 'kept', name);
      assert.equal(rowOf(again.out[0]!).cached, false, `${name}: requested again`);
      assert.equal(again.counters.annotate_cache_invalid, 1, name);
      contentMetadataSchema.parse(JSON.parse((await store.getText(keys.annotation))!));
      assert.equal(rowOf((await annotateAll(store, { backend: 'baseline' }, [item])).out[0]!).cached, true, `${name}: whole again, reused`);
    }
    // Damaged and the new request fails (here: the video is gone): an error row, which resume --retry-errors runs again.
    await store.put(keys.annotation, '{"title": "cut');
    await store.delete(mediaLayout(id).video);
    const failed = await annotateAll(store, { backend: 'baseline' }, [item]);
    assert.equal(failed.out[0]!.status, 'error');
    assert.match((failed.out[0] as { reason: string }).reason, /^video missing/);
  });

  it('a missing video is an error row, not a crash', async () => {
    const store = new FileStore(await mkdtemp(join(tmpdir(), 'annotate-baseline-')));
    const { out } = await annotateAll(store, { backend: 'baseline' }, [{ video_id: 'missing0001', duration_seconds: 5, title: '', description: '', transcript: '' }]);
    assert.equal(out[0]!.status, 'error');
    assert.match((out[0] as { reason: string }).reason, /^video missing: expected media\/missing0001\/missing0001\.mp4/);
  });
});
