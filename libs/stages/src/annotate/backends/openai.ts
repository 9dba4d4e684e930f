import { annotationJsonSchema } from '@finevideo/dataset';
import { ChatClient, describeServer, resolveServer, type ChatMessage, type JsonSchemaSpec } from '@finevideo/llm';
import { redactUrlCredentials } from '@finevideo/core';
import { addUsage } from '../cost.js';
import { ItemFailure, withRetries } from '../retry.js';
import type { Answer, BackendContext } from './types.js';

export const ANNOTATION_SCHEMA: JsonSchemaSpec = { name: 'content_metadata', schema: annotationJsonSchema() };

interface Endpoint {
  client: ChatClient;
  /** The server's dialect is known (detected once per process and settings). */
  ready: Promise<void>;
}
const endpoints = new Map<string, Endpoint>();

/**
 * libs/llm's ChatClient, one per process and settings, in the server's dialect (TGI by its /info version,
 * vLLM, OpenAI; openaiServerKind names it or 'auto' detects it). Its concurrency is the stage's; its
 * retries are off: ours (withRetries) honour Retry-After, count attempts and take the budgets per attempt.
 */
function endpointFor(ctx: BackendContext): Endpoint {
  const p = ctx.params;
  const baseURL = p.openaiBaseUrl!;
  const apiKey = process.env[p.openaiApiKeyEnv] || undefined;
  const key = JSON.stringify([baseURL, apiKey, p.openaiApiKeyEnv, p.openaiModel, p.openaiServerKind, p.requestTimeoutSec, p.concurrency]);
  let endpoint = endpoints.get(key);
  if (!endpoint) {
    const client = new ChatClient({ baseURL, model: p.openaiModel, apiKey, apiKeyEnv: p.openaiApiKeyEnv, concurrency: p.concurrency, timeoutMs: p.requestTimeoutSec * 1000, maxRetries: 0 });
    const ready = resolveServer(baseURL, p.openaiServerKind, { apiKey, apiKeyEnv: p.openaiApiKeyEnv, signal: ctx.signal }).then((server) => {
      client.useServer(server);
      ctx.log.info(`annotate: model server at ${redactUrlCredentials(baseURL)}: ${describeServer(server)}`);
    });
    endpoint = { client, ready };
    endpoints.set(key, endpoint);
    // A failed detection is not cached: the next chunk in this process starts over.
    ready.catch(() => endpoints.delete(key));
  }
  return endpoint;
}

/**
 * One chat completion against the OpenAI-compatible endpoint (structurer or vision model), with the
 * annotation schema as response_format in the server's form, under the budgets, retried on transient failures.
 */
export async function chatForAnnotation(ctx: BackendContext, messages: ChatMessage[], estimatedInputTokens: number): Promise<Answer> {
  const p = ctx.params;
  const { client, ready } = endpointFor(ctx);
  await ready;
  const apiKey = process.env[p.openaiApiKeyEnv] || undefined;
  const estimate = estimatedInputTokens + p.estimateOutputTokensPerVideo;
  const { value: result } = await withRetries(async (attempt) => {
    await ctx.budgets.requests.take(1, ctx.signal);
    await ctx.budgets.tokens.take(estimate, ctx.signal);
    const r = await client.chatOnce({ messages, maxTokens: p.maxOutputTokens, temperature: 0, jsonSchema: ANNOTATION_SCHEMA, signal: ctx.signal }, attempt);
    addUsage(ctx.usage, p.openaiModel, r.promptTokens, r.completionTokens, r.promptTokensByModality);
    ctx.budgets.tokens.settle(estimate, r.promptTokens + r.completionTokens);
    return r;
  }, ctx.retryOptions(`model endpoint ${p.openaiBaseUrl!.replace(/\/+$/, '')}/chat/completions`, apiKey, p.openaiApiKeyEnv, p.openaiModel));
  ctx.count('annotate_model_requests');
  if (result.content === '') throw new ItemFailure(`openai-no-answer: no content (finish_reason ${result.finishReason ?? 'none'})`);
  return { raw: result.content, truncated: result.finishReason === 'length' };
}
