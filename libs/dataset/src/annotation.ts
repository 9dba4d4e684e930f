import { z } from 'zod';

/**
 * FineVideo's `content_metadata`: the annotation of one video, with exactly the field names and nesting
 * of the published dataset (HuggingFaceFV/finevideo, dataset_info.features). The one source of truth:
 * the JSON Schema sent to models is generated from it (annotationJsonSchema), never written twice.
 *
 * Note which objects use `timestamp` and which `timestamps`: activities and props carry `timestamp`
 * (a start/end pair), scenes, video-editing details and trimming suggestions carry `timestamps`; mood key
 * moments, narrative moments and the climax carry a single `timestamp` string. Timestamps are model text
 * here ("00:01:05", "65", "end"); alignment turns them into frame-accurate HH:MM:SS.mmm timecodes, or null
 * where the model named no time (alignedContentMetadataSchema).
 */

/** FineVideo's mood taxonomy: three groups of five moods (the annotation prompt offers these). */
export const MOOD_TAXONOMY = {
  Positive: ['Happy', 'Excited', 'Calm', 'Grateful', 'Proud'],
  Negative: ['Sad', 'Angry', 'Anxious', 'Lonely', 'Bored'],
  Neutral: ['Indifferent', 'Content', 'Curious', 'Confused', 'Pensive'],
} as const;

export type MoodGroup = keyof typeof MOOD_TAXONOMY;
export type Mood = (typeof MOOD_TAXONOMY)[MoodGroup][number];
export const MOODS: readonly Mood[] = Object.values(MOOD_TAXONOMY).flat();

const text = z.string();
/** A scene's start/end pair: always a time (alignment places every scene). */
const span = z.strictObject({ start_timestamp: text, end_timestamp: text });
/** A score in [0, 1] (dynamismScore, audioVisualCorrelation). */
const unitScore = z.number().min(0).max(1);

export const characterSchema = z.strictObject({ characterId: text, name: text, description: text });

/**
 * The whole annotation, for a given type of inner timestamp (activities, props, editing details, mood key
 * moments, narrative moments, trimming suggestions, the climax). A model writes text there; alignment
 * writes a timecode, or null where the model named no time ("n/a", "throughout"), as the original did.
 */
function annotationSchemas<M extends z.ZodType>(moment: M) {
  const momentSpan = z.strictObject({ start_timestamp: moment, end_timestamp: moment });
  const scene = z.strictObject({
    sceneId: z.number().int(),
    title: text,
    timestamps: span,
    cast: z.array(text),
    activities: z.array(z.strictObject({ description: text, timestamp: momentSpan })),
    props: z.array(z.strictObject({ name: text, timestamp: momentSpan })),
    videoEditingDetails: z.array(z.strictObject({ description: text, timestamps: momentSpan })),
    mood: z.strictObject({
      description: text,
      keyMoments: z.array(z.strictObject({ timestamp: moment, changeDescription: text })),
    }),
    narrativeProgression: z.array(z.strictObject({ description: text, timestamp: moment })),
    characterInteraction: z.array(z.strictObject({ characters: z.array(text), description: text })),
    thematicElements: text,
    contextualRelevance: text,
    dynamismScore: unitScore,
    audioVisualCorrelation: unitScore,
  });
  const storylines = z.strictObject({
    description: text,
    /** sceneIds of the scenes the storyline runs through. */
    scenes: z.array(z.number().int()),
    climax: z.strictObject({ description: text, timestamp: moment }),
  });
  const metadata = z.strictObject({
    title: text,
    description: text,
    characterList: z.array(characterSchema),
    scenes: z.array(scene).min(1),
    storylines,
    qAndA: z.array(z.strictObject({ question: text, answer: text })),
    trimmingSuggestions: z.array(z.strictObject({ description: text, timestamps: momentSpan })),
  });
  return { scene, storylines, metadata };
}

const modelSchemas = annotationSchemas(text);
export const sceneSchema = modelSchemas.scene;
export const storylinesSchema = modelSchemas.storylines;

/** content_metadata as a model returns it (before alignment adds `fps`). */
export const contentMetadataSchema = modelSchemas.metadata;

/**
 * content_metadata as published: the aligned annotation with the video's frame rate. Inner timestamps are
 * a timecode or null (a time the model did not name); scene boundaries are always timecodes.
 */
export const alignedContentMetadataSchema = annotationSchemas(text.nullable()).metadata.extend({ fps: z.number().positive() });

export type ContentMetadata = z.infer<typeof contentMetadataSchema>;
export type AlignedContentMetadata = z.infer<typeof alignedContentMetadataSchema>;
export type Scene = ContentMetadata['scenes'][number];

/**
 * The JSON Schema of content_metadata for structured output (Gemini responseSchema, OpenAI/vLLM
 * json_schema strict, TGI grammars), generated from the zod schema: every property required, no
 * other properties, as strict modes ask.
 */
export function annotationJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(contentMetadataSchema, { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}
