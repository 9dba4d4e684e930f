import { contentMetadataSchema, type ContentMetadata } from '@finevideo/dataset';

export type Validation =
  | { ok: true; annotation: ContentMetadata }
  | { ok: false; problems: string; kind: 'too-large' | 'not-json' | 'schema' };

/** A ```json fence some models wrap answers in, even when asked for JSON. */
function unfence(raw: string): string {
  const t = raw.trim();
  const m = /^```(?:json)?\s*\n([\s\S]*?)\n?```$/i.exec(t);
  return m ? m[1]! : t;
}

/**
 * An answer checked against content_metadata: parsed, then validated with the zod schema (strict: no
 * extra fields). The result is the zod output, so nothing the schema does not know is ever stored.
 */
export function validateAnswer(raw: string, maxChars: number): Validation {
  if (raw.length > maxChars) return { ok: false, kind: 'too-large', problems: `answer of ${raw.length} characters, above maxAnswerChars ${maxChars}` };
  let value: unknown;
  try {
    value = JSON.parse(unfence(raw));
  } catch (e) {
    return { ok: false, kind: 'not-json', problems: `not JSON (${(e as Error).message.slice(0, 200)}); the answer may be cut off` };
  }
  const parsed = contentMetadataSchema.safeParse(value);
  if (parsed.success) return { ok: true, annotation: parsed.data };
  const issues = parsed.error.issues;
  const lines = issues.slice(0, 20).map((i) => `- ${i.path.map(String).join('.').slice(0, 200) || '(root)'}: ${i.message.slice(0, 200)}`);
  if (issues.length > 20) lines.push(`- ... and ${issues.length - 20} more`);
  return { ok: false, kind: 'schema', problems: lines.join('\n') };
}
