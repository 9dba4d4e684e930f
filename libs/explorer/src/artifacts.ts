import { alignedContentMetadataSchema, contentMetadataSchema } from '@finevideo/dataset';
import { mediaLayout, runLayout, type ObjectStore } from '@finevideo/core';
import type { TranscriptCue } from './api-types.js';

export type { TranscriptCue } from './api-types.js';

const CUE_TIME = /^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$/;

function cueSeconds(text: string): number | undefined {
  const m = CUE_TIME.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]!.padEnd(3, '0')) / 1000;
}

/** WebVTT cues (the subtitles download stored): times in seconds, tags stripped, repeated lines of rolling captions merged. */
export function parseVtt(text: string, maxCues = 20_000): TranscriptCue[] {
  const cues: TranscriptCue[] = [];
  const blocks = text.replace(/\r\n?/g, '\n').split(/\n{2,}/);
  for (const block of blocks) {
    const lines = block.split('\n');
    const timing = lines.findIndex((l) => l.includes('-->'));
    if (timing < 0) continue;
    const [from, rest] = lines[timing]!.split('-->');
    const start = cueSeconds(from ?? '');
    const end = cueSeconds((rest ?? '').trim().split(/\s+/)[0] ?? '');
    if (start === undefined || end === undefined) continue;
    const body = lines.slice(timing + 1).map((l) => l.replace(/<[^>]*>/g, '').trim()).filter(Boolean).join(' ');
    if (!body) continue;
    const previous = cues.at(-1);
    if (previous && previous.text === body) {
      previous.end = Math.max(previous.end, end);
      continue;
    }
    cues.push({ start, end, text: body });
    if (cues.length >= maxCues) break;
  }
  return cues;
}

/** Where a video's annotation came from: the aligned one (frame-accurate timecodes) first, else the model's. */
export interface AnnotationView {
  source: 'aligned' | 'annotations';
  key: string;
  /** Whether it passes the content_metadata schema (an invalid one is still shown, as stored). */
  valid: boolean;
  problems: string[];
  contentMetadata: Record<string, unknown>;
  /** Everything else the stored object holds beside content_metadata (model, versions, cost). */
  provenance: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** content_metadata inside a stored annotation: the object itself, or under content_metadata / annotation. */
function contentOf(stored: Record<string, unknown>): { content: Record<string, unknown>; provenance: Record<string, unknown> } | undefined {
  for (const field of ['content_metadata', 'contentMetadata', 'annotation']) {
    const inner = stored[field];
    if (isObject(inner)) {
      const { [field]: _inner, ...provenance } = stored;
      return { content: inner, provenance };
    }
  }
  if (Array.isArray(stored.scenes)) return { content: stored, provenance: {} };
  return undefined;
}

/** The largest annotation read (a model answer stored whole); a bigger object is reported, not parsed. */
const MAX_ANNOTATION_BYTES = 8 * 1024 * 1024;

export async function readAnnotation(store: ObjectStore, id: string): Promise<AnnotationView | undefined> {
  for (const [source, key] of [['aligned', `aligned/${id}.json`], ['annotations', `annotations/${id}.json`]] as const) {
    const text = await store.getText(key);
    if (text === undefined) continue;
    if (text.length > MAX_ANNOTATION_BYTES) {
      return { source, key, valid: false, problems: [`${key}: expected at most ${MAX_ANNOTATION_BYTES} bytes, got ${text.length}`], contentMetadata: {}, provenance: {} };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return { source, key, valid: false, problems: [`${key}: expected JSON, got ${(e as Error).message}`], contentMetadata: {}, provenance: {} };
    }
    const found = isObject(parsed) ? contentOf(parsed) : undefined;
    if (!found) return { source, key, valid: false, problems: [`${key}: expected content_metadata (an object with scenes), got none`], contentMetadata: {}, provenance: {} };
    const schema = source === 'aligned' ? alignedContentMetadataSchema : contentMetadataSchema;
    const check = schema.safeParse(found.content);
    const problems = check.success ? [] : check.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { source, key, valid: check.success, problems, contentMetadata: found.content, provenance: found.provenance };
  }
  return undefined;
}

/** Who made the video's annotation ("baseline annotator", or the backend), from the provenance annotate stores beside it. */
export async function readAnnotator(store: ObjectStore, id: string): Promise<string | undefined> {
  const text = await store.getText(`annotations/${id}.provenance.json`);
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) && typeof parsed.annotator === 'string' ? parsed.annotator : undefined;
  } catch {
    return undefined;
  }
}

export async function readTranscript(store: ObjectStore, id: string): Promise<TranscriptCue[] | undefined> {
  const text = await store.getText(mediaLayout(id).subtitles);
  return text === undefined ? undefined : parseVtt(text);
}

/** A stage's report (artifacts/<name>.json) as stored, or undefined; one that does not parse is said so. */
export async function readArtifact(store: ObjectStore, runId: string, stage: string, name: string): Promise<unknown> {
  const text = await store.getText(runLayout(runId).stage(stage).artifact(name));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    return { error: `artifacts/${name}: expected JSON, got ${(e as Error).message}` };
  }
}

/** What the export stage wrote for the run (export/<run-id>/...): its card and parquet files. */
export interface ExportView {
  prefix: string;
  card: boolean;
  files: { key: string; size: number }[];
  bytes: number;
}

export async function readExport(store: ObjectStore, runId: string, maxFiles = 200): Promise<ExportView | undefined> {
  const prefix = `export/${runId}/`;
  const files: ExportView['files'] = [];
  let bytes = 0;
  let card = false;
  let count = 0;
  for await (const o of store.list(prefix)) {
    count++;
    bytes += o.size;
    const rel = o.key.slice(prefix.length);
    if (rel === 'README.md') card = true;
    if (files.length < maxFiles) files.push({ key: rel, size: o.size });
  }
  if (!count) return undefined;
  return { prefix, card, files, bytes };
}
