import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { MOODS, MOOD_TAXONOMY, alignedContentMetadataSchema, annotationJsonSchema, contentMetadataSchema, hfFeatures, type HfFeature } from '@finevideo/dataset';

/**
 * content_metadata's features as the published dataset card (HuggingFaceFV/finevideo README.md,
 * dataset_info.features, json.content_metadata) lists them: the contract our schema must match.
 */
const PUBLISHED = `
- name: characterList
  list:
    - { name: characterId, dtype: string }
    - { name: description, dtype: string }
    - { name: name, dtype: string }
- { name: description, dtype: string }
- { name: fps, dtype: float64 }
- name: qAndA
  list:
    - { name: answer, dtype: string }
    - { name: question, dtype: string }
- name: scenes
  list:
    - name: activities
      list:
        - { name: description, dtype: string }
        - name: timestamp
          struct: [{ name: end_timestamp, dtype: string }, { name: start_timestamp, dtype: string }]
    - { name: audioVisualCorrelation, dtype: float64 }
    - { name: cast, sequence: string }
    - name: characterInteraction
      list:
        - { name: characters, sequence: string }
        - { name: description, dtype: string }
    - { name: contextualRelevance, dtype: string }
    - { name: dynamismScore, dtype: float64 }
    - name: mood
      struct:
        - { name: description, dtype: string }
        - name: keyMoments
          list: [{ name: changeDescription, dtype: string }, { name: timestamp, dtype: string }]
    - name: narrativeProgression
      list: [{ name: description, dtype: string }, { name: timestamp, dtype: string }]
    - name: props
      list:
        - { name: name, dtype: string }
        - name: timestamp
          struct: [{ name: end_timestamp, dtype: string }, { name: start_timestamp, dtype: string }]
    - { name: sceneId, dtype: int64 }
    - { name: thematicElements, dtype: string }
    - name: timestamps
      struct: [{ name: end_timestamp, dtype: string }, { name: start_timestamp, dtype: string }]
    - { name: title, dtype: string }
    - name: videoEditingDetails
      list:
        - { name: description, dtype: string }
        - name: timestamps
          struct: [{ name: end_timestamp, dtype: string }, { name: start_timestamp, dtype: string }]
- name: storylines
  struct:
    - name: climax
      struct: [{ name: description, dtype: string }, { name: timestamp, dtype: string }]
    - { name: description, dtype: string }
    - { name: scenes, sequence: int64 }
- { name: title, dtype: string }
- name: trimmingSuggestions
  list:
    - { name: description, dtype: string }
    - name: timestamps
      struct: [{ name: end_timestamp, dtype: string }, { name: start_timestamp, dtype: string }]
`;

/** The card lists fields by name; our schema keeps the order the prompt asks in. Compare sorted. */
function sorted(features: HfFeature[]): HfFeature[] {
  return [...features].sort((a, b) => a.name.localeCompare(b.name)).map((f) => {
    if ('struct' in f) return { name: f.name, struct: sorted(f.struct) };
    if ('list' in f) return { name: f.name, list: sorted(f.list) };
    return f;
  });
}

const span = (a: string, b: string) => ({ start_timestamp: a, end_timestamp: b });
const annotation = {
  title: 'Making fresh pasta', description: 'A cook makes tagliatelle by hand.',
  characterList: [{ characterId: 'c1', name: 'Cook', description: 'a woman in a white apron' }],
  scenes: [{
    sceneId: 1, title: 'Dough', timestamps: span('00:00:00', '00:01:10'), cast: ['c1'],
    activities: [{ description: 'kneading', timestamp: span('00:00:05', '00:00:50') }],
    props: [{ name: 'rolling pin', timestamp: span('00:00:40', 'end') }],
    videoEditingDetails: [{ description: 'close-up cut', timestamps: span('00:00:20', '00:00:22') }],
    mood: { description: 'Calm', keyMoments: [{ timestamp: '00:00:50', changeDescription: 'Calm to Proud as the dough comes together' }] },
    narrativeProgression: [{ description: 'the dough is ready', timestamp: '00:01:05' }],
    characterInteraction: [], thematicElements: 'craft', contextualRelevance: 'home cooking', dynamismScore: 0.4, audioVisualCorrelation: 0.8,
  }],
  storylines: { description: 'from flour to pasta', scenes: [1], climax: { description: 'the first noodles', timestamp: '00:01:00' } },
  qAndA: [{ question: 'What tool flattens the dough?', answer: 'A rolling pin.' }],
  trimmingSuggestions: [{ description: 'drop the intro', timestamps: span('00:00:00', '00:00:04') }],
};

describe('content_metadata schema (the published FineVideo annotation)', () => {
  it('has exactly the published dataset card\'s field names, nesting and types (timestamp vs timestamps included)', () => {
    const ours = sorted(hfFeatures(alignedContentMetadataSchema.shape));
    assert.deepEqual(ours, sorted(parseYaml(PUBLISHED) as HfFeature[]));
  });

  it('accepts a whole annotation; a bad one fails naming the field (and unknown keys)', () => {
    assert.deepEqual(contentMetadataSchema.parse(annotation), annotation);
    const bad = structuredClone(annotation) as typeof annotation & { scenes: { dynamismScore: number; extra?: string }[] };
    bad.scenes[0]!.dynamismScore = 1.5;
    bad.scenes[0]!.extra = 'x';
    const result = contentMetadataSchema.safeParse(bad);
    assert.equal(result.success, false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    assert.ok(paths.includes('scenes.0.dynamismScore'), paths.join(', '));
    assert.ok(result.error!.issues.some((i) => i.code === 'unrecognized_keys'), 'unknown keys are refused');
    assert.equal(alignedContentMetadataSchema.safeParse(annotation).success, false, 'the aligned form needs fps');
    assert.equal(alignedContentMetadataSchema.safeParse({ ...annotation, fps: 29.97 }).success, true);
  });

  it('generates the JSON Schema sent to models from the same definition: strict objects, every property required, scores bounded', () => {
    const schema = annotationJsonSchema();
    assert.equal(schema.$schema, undefined);
    const objects: Record<string, unknown>[] = [];
    const walk = (node: unknown) => {
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.type === 'object') objects.push(o);
      for (const v of Object.values(o)) walk(v);
    };
    walk(schema);
    assert.ok(objects.length >= 15, `expected every nested object, got ${objects.length}`);
    for (const o of objects) {
      assert.equal(o.additionalProperties, false);
      assert.deepEqual([...(o.required as string[])].sort(), Object.keys(o.properties as object).sort());
    }
    const scenes = (schema.properties as Record<string, { items: { properties: Record<string, Record<string, unknown>> } } | undefined>).scenes;
    assert.ok(scenes, 'scenes in the schema');
    const scene = scenes.items.properties;
    assert.deepEqual([scene.dynamismScore!.minimum, scene.dynamismScore!.maximum], [0, 1]);
    assert.equal(scene.sceneId!.type, 'integer');
    assert.ok('timestamp' in ((scene.activities!.items as Record<string, Record<string, unknown>>).properties!));
    assert.ok('timestamps' in ((scene.videoEditingDetails!.items as Record<string, Record<string, unknown>>).properties!));
  });

  it('keeps the mood taxonomy as data: three groups of five distinct moods', () => {
    assert.deepEqual(Object.keys(MOOD_TAXONOMY), ['Positive', 'Negative', 'Neutral']);
    for (const moods of Object.values(MOOD_TAXONOMY)) assert.equal(moods.length, 5);
    assert.equal(new Set(MOODS).size, 15);
  });
});
