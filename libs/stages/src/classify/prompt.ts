import { LEAF_NAMES, leafInfo } from '@finevideo/dataset';

export const DEFAULT_TEMPLATE = `Classify the video below into exactly one category of this list:
{categories}

Title: {title}
Channel: {channel}
Transcript (beginning): {transcript}

Answer with the category name only.`;

export interface PromptFields {
  title: string;
  channel: string;
  tags: string;
  transcript: string;
}

/** Fills {categories}, {title}, {channel}, {tags} and {transcript} in one pass, so text from a video is never re-expanded. */
export function buildPrompt(template: string, fields: PromptFields, leaves: readonly string[] = LEAF_NAMES): string {
  const values: Record<string, string> = { categories: leaves.map((l) => `- ${l}`).join('\n'), ...fields };
  return template.replace(/\{(categories|title|channel|tags|transcript)\}/g, (_, name: string) => values[name] ?? '');
}

/**
 * Maps a model's answer onto a leaf: JSON {"category": leaf} (constrained decoding), else the
 * exact name, case-insensitively, else the longest leaf named inside the text. undefined: unmappable.
 */
export function answerToLeaf(answer: string, leaves: readonly string[] = LEAF_NAMES): { leaf: string; fromJson: boolean } | undefined {
  const text = answer.trim();
  try {
    const parsed = JSON.parse(text) as { category?: unknown };
    if (typeof parsed?.category === 'string' && leaves.includes(parsed.category)) return { leaf: parsed.category, fromJson: true };
  } catch {
    /* free text: mapped below */
  }
  const lower = text.toLowerCase().replace(/[.!"'\s]+$/, '');
  const exact = leaves.find((l) => l.toLowerCase() === lower);
  if (exact) return { leaf: exact, fromJson: false };
  const contained = [...leaves].sort((a, b) => b.length - a.length).find((l) => lower.includes(l.toLowerCase()));
  return contained ? { leaf: contained, fromJson: false } : undefined;
}

const STOP = new Set(['and', 'the', 'videos', 'video', 'guides', 'talks', 'sessions', 'reviews', 'tips']);
const leafTerms = new Map(LEAF_NAMES.map((leaf) => {
  const info = leafInfo(leaf)!;
  const words = `${leaf} ${info.parent}`.toLowerCase().split(/[^a-z]+/).filter((w) => w.length > 3 && !STOP.has(w));
  return [leaf, [...new Set(words.map((w) => w.replace(/s$/, '')))]];
}));

/**
 * The built-in lexical baseline used when no model endpoint is configured: taxonomy terms
 * matched against title (x3), tags (x2) and transcript (x1). Not an LLM's judgement.
 */
export function lexicalBaseline(fields: PromptFields): { leaf: string; basis: string } | undefined {
  const fieldsLower = { title: fields.title.toLowerCase(), tags: fields.tags.toLowerCase(), transcript: fields.transcript.toLowerCase() };
  let best: { leaf: string; score: number; basis: string } | undefined;
  for (const [leaf, terms] of leafTerms) {
    let score = 0;
    const matched: string[] = [];
    for (const term of terms) {
      const inTitle = fieldsLower.title.includes(term) ? 3 : 0;
      const inTags = fieldsLower.tags.includes(term) ? 2 : 0;
      const inText = fieldsLower.transcript.includes(term) ? 1 : 0;
      if (inTitle + inTags + inText) matched.push(`${term} in ${[inTitle && 'title', inTags && 'tags', inText && 'transcript'].filter(Boolean).join('+')}`);
      score += inTitle + inTags + inText;
    }
    if (score > (best?.score ?? 0)) best = { leaf, score, basis: matched.join(', ') };
  }
  return best && { leaf: best.leaf, basis: best.basis };
}
