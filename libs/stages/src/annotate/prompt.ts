import { createHash } from 'node:crypto';
import { MOOD_TAXONOMY, annotationJsonSchema } from '@finevideo/dataset';

/**
 * Our annotation prompt (not the original's text). Placeholders: {title}, {description}, {duration},
 * {transcript}, {moods}. The JSON shape itself travels as the structured-output schema; the prompt
 * says what each part should contain.
 */
export const DEFAULT_PROMPT = `You are annotating one video for a research dataset of video understanding. Watch and listen to all of it.

Known metadata (may be incomplete or misleading; trust what you see and hear):
- title: {title}
- description: {description}
- length: {duration}

Describe the video as structured data:
1. title and description: your own short title and a two or three sentence summary.
2. characterList: every person or character who matters, with an id (e.g. "c1"), a name (or a role such as "presenter" when unnamed) and what they look like.
3. scenes: split the whole video into consecutive scenes that cover it from start to end, numbered from 1 (sceneId). For each scene give a title, its start and end, the characterIds in it (cast), activities and props with the time they are visible, editing details (cuts, transitions, overlays, text on screen, camera moves) with times, the mood (one of: {moods}) with the moments it changes, the narrative progression as time-stamped beats, interactions between characters, themes, why the scene matters to the whole, a dynamismScore (0 = still, 1 = constant motion) and an audioVisualCorrelation (0 = sound unrelated to the picture, 1 = tightly related).
4. storylines: the overall story, the sceneIds it runs through, and its climax with a time.
5. qAndA: exactly five question and answer pairs: two on fine visual or spoken details, two on reasoning about the story, one on mood or emotion. Answers must be checkable from the video.
6. trimmingSuggestions: parts that could be cut without losing the story (intros, dead air), with times and why; an empty list if none.

Times: write every time as HH:MM:SS (or plain seconds), measured from the start of the video, never beyond its end.
Write only what the video supports; leave a list empty rather than invent. Answer in English.

Transcript (may be missing or automatic):
{transcript}`;

/** Added when an answer was cut off (or on a second try): the original's remedy for runaway output. */
export const CONCISE_SUFFIX = '\n\nBe concise: short descriptions, at most 12 scenes, no repeated content, so the whole answer fits.';

/** Asks the model to correct its own answer (structurer and vision backends). */
export function repairInstruction(problems: string): string {
  return `Your previous answer does not match the required JSON schema. Problems:\n${problems}\nAnswer again with the complete corrected JSON object only.`;
}

export interface PromptFields {
  title: string;
  description: string;
  durationSeconds: number;
  transcript: string;
}

const moods = Object.entries(MOOD_TAXONOMY).map(([group, list]) => `${group}: ${list.join(', ')}`).join('; ');

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return 'unknown';
  const s = Math.round(seconds);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Fills the template in one pass (a placeholder inside a title is not expanded again). */
export function buildPrompt(template: string, fields: PromptFields): string {
  const values: Record<string, string> = {
    title: fields.title || '(none)',
    description: fields.description.slice(0, 5_000) || '(none)',
    duration: formatDuration(fields.durationSeconds),
    transcript: fields.transcript || '(none)',
    moods,
  };
  return template.replace(/\{(title|description|duration|transcript|moods)\}/g, (_, name: string) => values[name]!);
}

/** What the answer depends on besides the video: the template and the schema (cache provenance). */
export function promptHash(template: string): string {
  let hash = hashes.get(template);
  if (hash === undefined) {
    hash = createHash('sha256').update(template).update('\0').update(schemaText).digest('hex').slice(0, 16);
    hashes.set(template, hash);
  }
  return hash;
}

// Once per process: generating the JSON Schema per video cost CPU that 32 requests in flight compete for.
const schemaText = JSON.stringify(annotationJsonSchema());
const hashes = new Map<string, string>();
