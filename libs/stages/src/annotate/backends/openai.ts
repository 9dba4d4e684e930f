import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { annotationJsonSchema } from '@finevideo/dataset';
import { addUsage } from '../cost.js';
import { ItemFailure, withRetries } from '../retry.js';
import type { Answer, BackendContext } from './types.js';

const clients = new Map<string, OpenAI>();

/**
 * The `openai` SDK with its retries off (ours honour Retry-After, count attempts and share the
 * budgets). libs/llm's ChatClient sends text-only messages; image parts need the SDK's own types.
 */
function clientFor(baseURL: string, apiKey: string | undefined, timeoutMs: number): OpenAI {
  const key = JSON.stringify([baseURL, apiKey, timeoutMs]);
  let client = clients.get(key);
  if (!client) {
    client = new OpenAI({ baseURL, apiKey: apiKey || 'unused', maxRetries: 0, timeout: timeoutMs });
    clients.set(key, client);
  }
  return client;
}

export const ANNOTATION_RESPONSE_FORMAT = { type: 'json_schema', json_schema: { name: 'content_metadata', schema: annotationJsonSchema(), strict: true } } as const;

/**
 * One chat completion against the OpenAI-compatible endpoint (structurer or vision model), with the
 * annotation schema as response_format (strict), under the budgets, retried on transient failures.
 */
export async function chatForAnnotation(ctx: BackendContext, messages: ChatCompletionMessageParam[], estimatedInputTokens: number): Promise<Answer> {
  const p = ctx.params;
  const baseURL = p.openaiBaseUrl!;
  const apiKey = process.env[p.openaiApiKeyEnv] || undefined;
  const client = clientFor(baseURL, apiKey, p.requestTimeoutSec * 1000);
  const body: ChatCompletionCreateParamsNonStreaming = {
    model: p.openaiModel,
    messages,
    max_tokens: p.maxOutputTokens,
    temperature: 0,
    response_format: ANNOTATION_RESPONSE_FORMAT as unknown as ChatCompletionCreateParamsNonStreaming['response_format'],
  };
  const estimate = estimatedInputTokens + p.estimateOutputTokensPerVideo;
  const { value: completion } = await withRetries(async () => {
    await ctx.budgets.requests.take(1, ctx.signal);
    await ctx.budgets.tokens.take(estimate, ctx.signal);
    const c = await client.chat.completions.create(body, { signal: ctx.signal });
    const input = c.usage?.prompt_tokens ?? 0;
    const output = c.usage?.completion_tokens ?? 0;
    const details = c.usage?.prompt_tokens_details as { image_tokens?: number; audio_tokens?: number; text_tokens?: number } | undefined;
    const modalities: Record<string, number> = {};
    if (details?.image_tokens) modalities.IMAGE = details.image_tokens;
    if (details?.audio_tokens) modalities.AUDIO = details.audio_tokens;
    if (details?.text_tokens) modalities.TEXT = details.text_tokens;
    addUsage(ctx.usage, p.openaiModel, input, output, modalities);
    ctx.budgets.tokens.settle(estimate, input + output);
    return c;
  }, ctx.retryOptions(`model endpoint ${baseURL.replace(/\/+$/, '')}/chat/completions`, apiKey, p.openaiApiKeyEnv, p.openaiModel));
  ctx.count('annotate_model_requests');
  const choice = completion.choices?.[0];
  const raw = choice?.message?.content;
  if (typeof raw !== 'string' || raw === '') throw new ItemFailure(`openai-no-answer: no content (finish_reason ${choice?.finish_reason ?? 'none'})`);
  return { raw, truncated: choice?.finish_reason === 'length' };
}
