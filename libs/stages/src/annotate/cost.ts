import { DEFAULT_PRICES, type AnnotateParams, type ModelPrice } from './params.js';

/** Tokens one video cost, as the API reported them. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens by modality where reported (Gemini: TEXT, IMAGE, VIDEO, AUDIO). */
  inputByModality: Record<string, number>;
  /** Which model each part went to, for prices: the structurer's tokens are priced as its model. */
  byModel: Record<string, { inputTokens: number; outputTokens: number; inputByModality: Record<string, number> }>;
}

export const emptyUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, inputByModality: {}, byModel: {} });

/** Adds one response's usage (of `model`) to a video's total. */
export function addUsage(total: Usage, model: string, inputTokens: number, outputTokens: number, inputByModality: Record<string, number> = {}): void {
  const m = (total.byModel[model] ??= { inputTokens: 0, outputTokens: 0, inputByModality: {} });
  total.inputTokens += inputTokens;
  total.outputTokens += outputTokens;
  m.inputTokens += inputTokens;
  m.outputTokens += outputTokens;
  for (const [k, v] of Object.entries(inputByModality)) {
    total.inputByModality[k] = (total.inputByModality[k] ?? 0) + v;
    m.inputByModality[k] = (m.inputByModality[k] ?? 0) + v;
  }
}

export function priceTable(p: Pick<AnnotateParams, 'prices'>): Record<string, ModelPrice> {
  return { ...DEFAULT_PRICES, ...p.prices };
}

/** Dollars for a model's tokens; undefined when the model has no price. */
export function dollars(price: ModelPrice | undefined, inputTokens: number, outputTokens: number, inputByModality: Record<string, number> = {}): number | undefined {
  if (!price) return undefined;
  let input = inputTokens;
  let cost = 0;
  for (const [modality, tokens] of Object.entries(inputByModality)) {
    const special = price.inputByModality?.[modality];
    if (special === undefined) continue;
    cost += (tokens * special) / 1e6;
    input -= tokens;
  }
  return cost + (Math.max(0, input) * price.input + outputTokens * price.output) / 1e6;
}

/** A video's cost over every model it used; undefined when one of them has no price. */
export function usageDollars(usage: Usage, prices: Record<string, ModelPrice>): number | undefined {
  let sum = 0;
  for (const [model, u] of Object.entries(usage.byModel)) {
    const d = dollars(prices[model], u.inputTokens, u.outputTokens, u.inputByModality);
    if (d === undefined) return undefined;
    sum += d;
  }
  return sum;
}

/** Counters hold integers: dollars are summed as micro-dollars. */
export const MICRO = 1e6;

export function formatDollars(d: number): string {
  return d >= 100 ? `$${d.toFixed(0)}` : d >= 1 ? `$${d.toFixed(2)}` : `$${d.toFixed(4)}`;
}

/** The models a backend pays for, with the share of the estimate each takes. */
function pricedModels(p: AnnotateParams): { model: string; inputPerSecond: number; inputPerVideo: number; outputPerVideo: number }[] {
  const inPerSec = p.estimateInputTokensPerSecond;
  const out = p.estimateOutputTokensPerVideo;
  switch (p.backend) {
    case 'baseline': return [];
    case 'gemini': return [{ model: p.model, inputPerSecond: inPerSec, inputPerVideo: 2_000, outputPerVideo: out }];
    // The structurer reads Gemini's text (about as long as the JSON) and writes the JSON.
    case 'gemini+structurer': return [{ model: p.model, inputPerSecond: inPerSec, inputPerVideo: 2_000, outputPerVideo: out }, { model: p.openaiModel, inputPerSecond: 0, inputPerVideo: out + 3_000, outputPerVideo: out }];
    // Frames: up to maxFrames images at ~85 + 170 per 512 px tile (OpenAI's low-tile formula), plus the transcript.
    case 'openai-vision': return [{ model: p.openaiModel, inputPerSecond: 0, inputPerVideo: p.maxFrames * 255 + p.transcriptChars / 4 + 2_000, outputPerVideo: out }];
  }
}

export interface CostEstimate {
  videos: number;
  hours: number;
  inputTokens: number;
  outputTokens: number;
  /** undefined: a model without a price. */
  dollars: number | undefined;
  unpriced: string[];
  line: string;
}

/**
 * The expected cost of annotating videos of these durations: tokens from the estimate params
 * (input per video second, output per video) and dollars from the price table.
 */
export function estimateCost(p: AnnotateParams, videos: number, totalSeconds: number): CostEstimate {
  let inputTokens = 0;
  let outputTokens = 0;
  let total: number | undefined = 0;
  const unpriced: string[] = [];
  const prices = priceTable(p);
  for (const m of pricedModels(p)) {
    const input = m.inputPerSecond * totalSeconds + m.inputPerVideo * videos;
    const output = m.outputPerVideo * videos;
    inputTokens += input;
    outputTokens += output;
    const d = dollars(prices[m.model], input, output);
    if (d === undefined) unpriced.push(m.model);
    else if (total !== undefined) total += d;
  }
  if (unpriced.length) total = undefined;
  const hours = totalSeconds / 3600;
  const tokens = `${Math.round(inputTokens).toLocaleString('en-US')} input + ${Math.round(outputTokens).toLocaleString('en-US')} output tokens`;
  const line = p.backend === 'baseline'
    ? `expected cost: $0 (baseline annotator, no model) for ${videos} videos, ${hours.toFixed(2)} h`
    : total === undefined
      ? `expected cost: unknown (no price for ${unpriced.join(', ')}; set params.prices) for ${videos} videos, ${hours.toFixed(2)} h, about ${tokens}`
      : `expected cost: about ${formatDollars(total)} for ${videos} videos, ${hours.toFixed(2)} h (${hours > 0 ? formatDollars(total / hours) : '$0'} per video hour), about ${tokens}, backend ${p.backend}`;
  return { videos, hours, inputTokens, outputTokens, dollars: total, unpriced, line };
}
