import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ObjectStore } from '@finevideo/core';

/**
 * Model answers of classify, stored per video at the storage root (outside any run), so a re-planned
 * stage (resume --retry-errors upstream, a new run over the same videos) pays only for what changed.
 * Called only with ids checked by isVideoId: no model output or free text reaches a key.
 */
export const classifyAnswerKey = (videoId: string) => `classifications/${videoId}.json`;

/** Everything that decides the answer: the model, the exact prompt (template and this video's text), the schema asked for, the token cap. */
export function answerKeyOf(model: string, prompt: string, schema: unknown, maxTokens: number): string {
  return createHash('sha256').update(JSON.stringify([model, prompt, schema ?? null, maxTokens])).digest('hex').slice(0, 32);
}

const storedAnswerSchema = z.object({
  key: z.string().min(1),
  model: z.string(),
  content: z.string(),
  constrained: z.boolean(),
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  answeredAt: z.string(),
});
export type StoredAnswer = z.infer<typeof storedAnswerSchema>;

export type AnswerLookup = { status: 'hit'; answer: StoredAnswer } | { status: 'miss' } | { status: 'invalid'; reason: string };

/** The stored answer when it was given for this key and is whole; a damaged one is asked again, never reused. */
export async function lookupAnswer(store: ObjectStore, videoId: string, key: string): Promise<AnswerLookup> {
  const text = await store.getText(classifyAnswerKey(videoId));
  if (text === undefined) return { status: 'miss' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: 'invalid', reason: `${classifyAnswerKey(videoId)} is not JSON` };
  }
  // Another model's or prompt's answer is not this one: a miss, not damage.
  if ((json as { key?: unknown } | null)?.key !== key) return { status: 'miss' };
  const parsed = storedAnswerSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { status: 'invalid', reason: `${classifyAnswerKey(videoId)} at ${issue.path.join('.') || '(root)'}: ${issue.message.slice(0, 160)}` };
  }
  return { status: 'hit', answer: parsed.data };
}

export async function storeAnswer(store: ObjectStore, videoId: string, answer: StoredAnswer): Promise<void> {
  await store.put(classifyAnswerKey(videoId), JSON.stringify(answer), { contentType: 'application/json' });
}
