import assert from 'node:assert/strict';
import { MOODS, contentMetadataSchema } from '@finevideo/dataset';
import { HOSTILE_KINDS, annotationAsText, exampleFromSchema, hostileAnnotation, sampleAnnotation } from '@finevideo/testing';

const seconds = (hhmmss: string) => hhmmss.split(':').reduce((s, part) => s * 60 + Number(part), 0);

describe('sample and hostile annotations (the fakes\' answers)', function () {
  for (const durationSeconds of [0.4, 1, 3, 12.7, 95, 3 * 3600 + 5]) {
    it(`a ${durationSeconds} s video gets a schema-valid annotation whose timestamps all lie inside it`, () => {
      for (const seed of [1, 2, 3, 77]) {
        const a = sampleAnnotation({ durationSeconds, seed });
        assert.equal(contentMetadataSchema.safeParse(a).success, true);
        const stamps = JSON.stringify(a).match(/\d\d:\d\d:\d\d/g)!;
        assert.ok(stamps.length > 5);
        for (const t of stamps) assert.ok(seconds(t) <= durationSeconds, `${t} is past ${durationSeconds} s`);
        assert.equal(a.qAndA.length, 5);
        assert.equal(seconds(a.scenes.at(-1)!.timestamps.end_timestamp), Math.floor(durationSeconds));
        assert.deepEqual(a.storylines.scenes, a.scenes.map((s) => s.sceneId));
        for (const s of a.scenes) assert.ok(MOODS.some((m) => s.mood.description.startsWith(m)), s.mood.description);
      }
    });
  }

  it('is reproducible from its seed and honours the scene count', () => {
    assert.deepEqual(sampleAnnotation({ durationSeconds: 60, seed: 9 }), sampleAnnotation({ durationSeconds: 60, seed: 9 }));
    assert.notDeepEqual(sampleAnnotation({ durationSeconds: 60, seed: 9 }), sampleAnnotation({ durationSeconds: 60, seed: 10 }));
    assert.equal(sampleAnnotation({ durationSeconds: 60, scenes: 4 }).scenes.length, 4);
    assert.equal(sampleAnnotation({ durationSeconds: 2, scenes: 4 }).scenes.length, 2, 'never more scenes than whole seconds');
    assert.throws(() => sampleAnnotation({ durationSeconds: -1 }), /durationSeconds: expected a number >= 0, got -1/);
    assert.match(annotationAsText(sampleAnnotation({ durationSeconds: 20 })), /^Title: .*\n[\s\S]*Scene 1, ".*", from 00:00:00 to 00:00:10/);
  });

  for (const kind of HOSTILE_KINDS) {
    it(`hostile "${kind}" is what it says: schema-valid or not, as flagged`, () => {
      const h = hostileAnnotation(kind);
      let parsed: unknown;
      try {
        parsed = JSON.parse(h.text);
      } catch {
        parsed = undefined;
      }
      assert.equal(parsed !== undefined && contentMetadataSchema.safeParse(parsed).success, h.schemaValid, h.description);
    });
  }

  it('builds the smallest value of a JSON Schema or a Gemini Schema', () => {
    assert.deepEqual(exampleFromSchema({ type: 'OBJECT', properties: { a: { type: 'STRING', enum: ['x', 'y'] }, b: { type: 'ARRAY', minItems: 2, items: { type: 'INTEGER', minimum: 3 } } } }), { a: 'x', b: [3, 3] });
  });
});
