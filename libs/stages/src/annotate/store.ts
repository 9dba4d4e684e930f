import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ObjectStore } from '@finevideo/core';
import { contentMetadataSchema, type ContentMetadata } from '@finevideo/dataset';
import { answeringModel, type AnnotateParams } from './params.js';
import { promptHash } from './prompt.js';

export { localVideo } from '../local-video.js';

/**
 * Per-video annotation keys at the storage root, outside any run, so a later run reuses them. Only
 * ever called with an id checked by isVideoId: model output never reaches a key.
 */
export const annotationLayout = (videoId: string) => ({
  annotation: `annotations/${videoId}.json`,
  /** What made the annotation (backend, model, prompt and schema hash); written after it, read by the cache. */
  provenance: `annotations/${videoId}.provenance.json`,
  error: `annotations/errors/${videoId}.json`,
});

export interface Provenance {
  /** Hash of everything below that decides the answer: a cached annotation is reused only when it matches. */
  key: string;
  backend: AnnotateParams['backend'];
  /** "baseline annotator" for the baseline, else the backend name. */
  annotator: string;
  model: string;
  promptHash: string;
  /** Settings that change what the backend sees (frames, scene threshold). */
  settings: Record<string, unknown>;
  annotatedAt: string;
  scenes: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

export function provenanceOf(p: AnnotateParams): Pick<Provenance, 'key' | 'backend' | 'model' | 'promptHash' | 'settings'> {
  const settings: Record<string, unknown> =
    p.backend === 'openai-vision' ? { framesPerSecond: p.framesPerSecond, maxFrames: p.maxFrames, frameMaxSide: p.frameMaxSide, transcriptChars: p.transcriptChars }
      : p.backend === 'baseline' ? { sceneThreshold: p.sceneThreshold }
        : {};
  const base = { backend: p.backend, model: answeringModel(p), promptHash: p.backend === 'baseline' ? 'none' : promptHash(p.prompt), settings };
  return { ...base, key: createHash('sha256').update(JSON.stringify(base)).digest('hex').slice(0, 16) };
}

/** What a stored provenance must hold to be trusted (fields added later are ignored). */
const provenanceSchema = z.object({
  key: z.string().min(1),
  backend: z.string().min(1),
  annotator: z.string(),
  model: z.string(),
  promptHash: z.string(),
  settings: z.record(z.string(), z.unknown()),
  annotatedAt: z.string(),
  scenes: z.number().int().min(1),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUsd: z.number().min(0).nullable(),
});

/** The cache's verdict on a video: reuse the stored annotation, annotate (none for these settings), or annotate again (the stored one is invalid). */
export type CacheLookup = { status: 'hit'; provenance: Provenance } | { status: 'miss' } | { status: 'invalid'; reason: string };

const firstIssue = (error: z.ZodError) => {
  const issue = error.issues[0]!;
  return `at ${issue.path.join('.') || '(root)'}: ${issue.message.slice(0, 160)}`;
};

/**
 * The stored annotation of a video when it was made with this run's settings (its provenance's key) and
 * is still whole: provenance and annotation are schema-checked and must agree (scene count), so a damaged,
 * truncated or hand-edited file is never reused as a finished answer; it is requested again.
 */
export async function lookupCache(store: ObjectStore, videoId: string, key: string): Promise<CacheLookup> {
  const keys = annotationLayout(videoId);
  const text = await store.getText(keys.provenance);
  if (text === undefined) return { status: 'miss' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: 'invalid', reason: `${keys.provenance} is not JSON` };
  }
  // Another backend's or prompt's answer is not this run's: not invalid, just not a hit.
  if ((json as { key?: unknown } | null)?.key !== key) return { status: 'miss' };
  const provenance = provenanceSchema.safeParse(json);
  if (!provenance.success) return { status: 'invalid', reason: `${keys.provenance} ${firstIssue(provenance.error)}` };
  const annotationText = await store.getText(keys.annotation);
  if (annotationText === undefined) return { status: 'miss' };
  let annotation: unknown;
  try {
    annotation = JSON.parse(annotationText);
  } catch {
    return { status: 'invalid', reason: `${keys.annotation} is not JSON` };
  }
  const parsed = contentMetadataSchema.safeParse(annotation);
  if (!parsed.success) return { status: 'invalid', reason: `${keys.annotation} ${firstIssue(parsed.error)}` };
  if (parsed.data.scenes.length !== provenance.data.scenes) {
    return { status: 'invalid', reason: `${keys.annotation} has ${parsed.data.scenes.length} scene(s), its provenance says ${provenance.data.scenes}` };
  }
  return { status: 'hit', provenance: provenance.data as Provenance };
}

/** The annotation first, its provenance last (the cache's marker): a crash between them costs a re-annotation, never a wrong reuse. */
export async function storeAnnotation(store: ObjectStore, videoId: string, annotation: ContentMetadata, provenance: Provenance): Promise<void> {
  const keys = annotationLayout(videoId);
  await store.put(keys.annotation, JSON.stringify(annotation), { contentType: 'application/json' });
  await store.put(keys.provenance, JSON.stringify(provenance), { contentType: 'application/json' });
}

/** The raw answer of a schema-invalid video, kept for inspection (cut at maxChars). */
export async function storeInvalidAnswer(store: ObjectStore, videoId: string, record: { backend: string; model: string; problems: string; raw: string; attempts: number }, maxChars: number): Promise<string> {
  const key = annotationLayout(videoId).error;
  const raw = record.raw.length > maxChars ? record.raw.slice(0, maxChars) : record.raw;
  await store.put(key, JSON.stringify({ video_id: videoId, ...record, raw, rawChars: record.raw.length, rawCut: raw.length < record.raw.length, at: new Date().toISOString() }), { contentType: 'application/json' });
  return key;
}

