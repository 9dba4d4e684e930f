import { createHash } from 'node:crypto';
import type { ObjectStore } from '@finevideo/core';
import type { ContentMetadata } from '@finevideo/dataset';
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

/** The stored provenance when it matches this run's settings and its annotation is there; else undefined. */
export async function cachedProvenance(store: ObjectStore, videoId: string, key: string): Promise<Provenance | undefined> {
  const keys = annotationLayout(videoId);
  const text = await store.getText(keys.provenance);
  if (text === undefined) return undefined;
  let stored: Provenance;
  try {
    stored = JSON.parse(text) as Provenance;
  } catch {
    return undefined;
  }
  if (stored?.key !== key) return undefined;
  return (await store.exists(keys.annotation)) ? stored : undefined;
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

