import { z } from 'zod';

/**
 * FineVideo's `content_metadata`: the annotation of one video, with exactly the field names and nesting
 * of the published dataset (HuggingFaceFV/finevideo, dataset_info.features). The one source of truth:
 * the JSON Schema sent to models is generated from it (annotationJsonSchema), never written twice.
 *
 * Note which objects use `timestamp` and which `timestamps`: activities and props carry `timestamp`
 * (a start/end pair), scenes, video-editing details and trimming suggestions carry `timestamps`; mood key
 * moments, narrative moments and the climax carry a single `timestamp` string. Timestamps are model text
 * here ("00:01:05", "65", "end"); alignment turns them into frame-accurate HH:MM:SS.mmm timecodes.
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
/** A start/end pair as the model wrote it. */
const span = z.strictObject({ start_timestamp: text, end_timestamp: text });
/** A score in [0, 1] (dynamismScore, audioVisualCorrelation). */
const unitScore = z.number().min(0).max(1);

export const characterSchema = z.strictObject({ characterId: text, name: text, description: text });

export const sceneSchema = z.strictObject({
  sceneId: z.number().int(),
  title: text,
  timestamps: span,
  cast: z.array(text),
  activities: z.array(z.strictObject({ description: text, timestamp: span })),
  props: z.array(z.strictObject({ name: text, timestamp: span })),
  videoEditingDetails: z.array(z.strictObject({ description: text, timestamps: span })),
  mood: z.strictObject({
    description: text,
    keyMoments: z.array(z.strictObject({ timestamp: text, changeDescription: text })),
  }),
  narrativeProgression: z.array(z.strictObject({ description: text, timestamp: text })),
  characterInteraction: z.array(z.strictObject({ characters: z.array(text), description: text })),
  thematicElements: text,
  contextualRelevance: text,
  dynamismScore: unitScore,
  audioVisualCorrelation: unitScore,
});

export const storylinesSchema = z.strictObject({
  description: text,
  /** sceneIds of the scenes the storyline runs through. */
  scenes: z.array(z.number().int()),
  climax: z.strictObject({ description: text, timestamp: text }),
});

/** content_metadata as a model returns it (before alignment adds `fps`). */
export const contentMetadataSchema = z.strictObject({
  title: text,
  description: text,
  characterList: z.array(characterSchema),
  scenes: z.array(sceneSchema).min(1),
  storylines: storylinesSchema,
  qAndA: z.array(z.strictObject({ question: text, answer: text })),
  trimmingSuggestions: z.array(z.strictObject({ description: text, timestamps: span })),
});

/** content_metadata as published: the aligned annotation with the video's frame rate. */
export const alignedContentMetadataSchema = contentMetadataSchema.extend({ fps: z.number().positive() });

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
