import { z } from 'zod';
import type { MapStage, Outcome, Row } from '@finevideo/core';

export const worddensityParams = z.strictObject({
  /** Keep rows whose words per second are strictly above this. */
  threshold: z.number().min(0).default(0.5),
});
export type WorddensityParams = z.infer<typeof worddensityParams>;

/**
 * YouTube-Commons duration strings to seconds: "h:m:s", "m:s" or "s"; missing or empty -> 0,
 * as the original did. Parts are not range-checked ("1:75" is 135 s, like the original's
 * int arithmetic). Anything else (letters, signs, decimals, four parts) -> undefined: unparseable.
 */
export function parseDuration(value: unknown): number | undefined {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return 0;
  if (!/^\d+(?::\d+){0,2}$/.test(text)) return undefined;
  return text.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}

/** Words per second; 0 when the duration is 0 (the original's convention). */
export function wordDensity(wordCount: number, durationSeconds: number): number {
  return durationSeconds > 0 ? wordCount / durationSeconds : 0;
}

export type DensityVerdict =
  | { keep: true; durationSeconds: number; density: number }
  | { keep: false; reason: 'unparseable-duration' | 'low-word-density'; durationSeconds?: number; density?: number };

export function densityVerdict(row: { duration_string?: unknown; word_count?: unknown }, threshold: number): DensityVerdict {
  const durationSeconds = parseDuration(row.duration_string);
  if (durationSeconds === undefined) return { keep: false, reason: 'unparseable-duration' };
  const words = Number(row.word_count ?? 0);
  const density = wordDensity(Number.isFinite(words) ? words : 0, durationSeconds);
  return density > threshold ? { keep: true, durationSeconds, density } : { keep: false, reason: 'low-word-density', durationSeconds, density };
}

function withoutStatus(row: Row): Row {
  const { status: _s, reason: _r, ...rest } = row;
  return rest;
}

/**
 * A video id as a string (integer ids from a parquet column become their digits), or undefined when
 * it cannot name a row downstream: NULL, blank, over 64 characters, or holding whitespace, control
 * characters or slashes (the rule ytcommons applies).
 */
export function videoIdOf(value: unknown): string | undefined {
  const id = typeof value === 'string' ? value : (typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint' ? String(value) : undefined;
  return id !== undefined && id.length >= 1 && id.length <= 64 && !/[\s/\\\x00-\x1f\x7f]/.test(id) ? id : undefined;
}

/** The column an item without a usable id carries: its position in the previous stage's table (0-based). */
export const INPUT_ROW = 'input_row';

/** A bad id as text for the error row (NULL stays null). */
function idText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value).slice(0, 200);
}

function describeId(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return JSON.stringify(typeof value === 'string' ? value.slice(0, 80) : String(value).slice(0, 80));
}

/** Stage 3: keep videos that talk enough for their length. */
export const worddensityStage: MapStage<WorddensityParams, Row, Row> = {
  name: 'worddensity',
  kind: 'map',
  description: 'drop videos whose transcript has too few words per second',
  params: worddensityParams,
  image: 'finevideo/stage-worddensity',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  // A row costs microseconds: big chunks keep process start-up small next to the work (spine bench).
  defaultItemsPerChunk: 100_000,
  itemConcurrency: () => 1,
  // Only what the verdict needs: transcripts stay in the ytcommons table (join by video_id).
  inputColumns: ['video_id', 'duration_string', 'word_count'],
  async *listItems(ctx) {
    let position = 0;
    for await (const input of ctx.previousRows()) {
      const row = withoutStatus(input);
      const id = videoIdOf(row.video_id);
      // Ids are strings from here on; a row without a usable id keeps its position, to become an error row.
      yield id === undefined ? { ...row, video_id: idText(row.video_id), [INPUT_ROW]: position } : { ...row, video_id: id };
      position++;
    }
  },
  itemKey: (row) => videoIdOf(row.video_id) ?? `${INPUT_ROW} ${String(row[INPUT_ROW] ?? '?')}`,
  async processItem(input, ctx): Promise<Outcome> {
    const id = videoIdOf(input.video_id);
    if (id === undefined) {
      const where = typeof input[INPUT_ROW] === 'number' ? `input row ${input[INPUT_ROW]}` : 'an input row';
      return {
        status: 'error',
        reason: `invalid-id: ${where}: expected a video id (1 to 64 characters without spaces or slashes), got ${describeId(input.video_id)}`,
        row: { video_id: idText(input.video_id), ...(typeof input[INPUT_ROW] === 'number' ? { [INPUT_ROW]: input[INPUT_ROW] } : {}) },
      };
    }
    const row: Row = { ...input, video_id: id };
    const verdict = densityVerdict(row, ctx.params.threshold);
    if (verdict.keep) return { status: 'kept', row: { ...row, duration_seconds: verdict.durationSeconds, word_density: verdict.density } };
    // Dropped rows stay in the table so the funnel can be audited.
    return { status: 'dropped', reason: verdict.reason, row: { ...row, duration_seconds: verdict.durationSeconds ?? null, word_density: verdict.density ?? null } };
  },
};
