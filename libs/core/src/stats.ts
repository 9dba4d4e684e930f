/** Counts of one chunk (or a whole stage after merging): the funnel. */
export interface StageStats {
  /** Work items processed (for ytcommons: shards; for row stages: input rows). */
  items: number;
  /** Rows written as kept (the next stage's input). */
  kept: number;
  /** Rows dropped by a verdict, by reason. */
  dropped: number;
  /** Items that failed, by reason. */
  errors: number;
  /** Count per drop or error reason ("dropped:<reason>" / "error:<reason>"). */
  reasons: Record<string, number>;
  /** Stage-specific counters (tokens, bytes downloaded, ...). */
  counters: Record<string, number>;
}

export const emptyStats = (): StageStats => ({ items: 0, kept: 0, dropped: 0, errors: 0, reasons: {}, counters: {} });

export function addReason(stats: StageStats, kind: 'dropped' | 'error', reason: string, count = 1): void {
  const key = `${kind}:${reason}`;
  stats.reasons[key] = (stats.reasons[key] ?? 0) + count;
}

export function mergeStats(into: StageStats, other: StageStats): StageStats {
  into.items += other.items;
  into.kept += other.kept;
  into.dropped += other.dropped;
  into.errors += other.errors;
  for (const [k, v] of Object.entries(other.reasons)) into.reasons[k] = (into.reasons[k] ?? 0) + v;
  for (const [k, v] of Object.entries(other.counters)) into.counters[k] = (into.counters[k] ?? 0) + v;
  return into;
}

/** The completion marker of one chunk, written last. */
export interface DoneMarker {
  stage: string;
  index: number;
  attempt: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  peakRssBytes: number;
  stats: StageStats;
  /** The chunk's output parts (storage keys), in row order; none when the chunk produced no rows. */
  parts: string[];
}

/** table.json: a finished stage's output, read part by part in this order. */
export interface StageTable {
  stage: string;
  sealedAt: string;
  stats: StageStats;
  parts: string[];
}
