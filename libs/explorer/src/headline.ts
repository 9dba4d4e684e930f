import type { FunnelHours, StageStateView } from './api-types.js';
import type { ItemError } from './run-index.js';

/** The overview's headline figures, each reconciling with a row of the funnel. */
export interface Headline {
  /** The first stage's outcomes that are videos: kept, dropped (counted or as rows) and error rows naming a video. */
  videosSeen: number;
  firstStage: string | null;
  /** Error items of the first stage that name no video (an unreadable shard): not among the videos seen. */
  itemsWithoutVideo: number;
  /** The last stage about videos (not a run-level one such as export-card) that has finished a chunk. */
  endStage: string | null;
  endKept: number;
  endHours: number;
  /** Whether endStage is the last video-level stage of the pipeline (else the run has not got there yet). */
  endIsFinal: boolean;
}

export function headline(stages: readonly StageStateView[], funnel: readonly FunnelHours[], itemErrors: readonly ItemError[]): Headline {
  const first = stages[0];
  const withoutVideo = first ? itemErrors.filter((e) => e.stage === first.stage && e.status === 'error').length : 0;
  const videoStages = stages.filter((s) => !s.runLevel);
  const end = [...videoStages].reverse().find((s) => s.done > 0);
  const endHours = end ? funnel.filter((f) => f.stage === end.stage && f.status === 'kept').reduce((a, f) => a + f.hours, 0) : 0;
  return {
    videosSeen: first ? first.stats.kept + first.stats.dropped + Math.max(0, first.stats.errors - withoutVideo) : 0,
    firstStage: first?.stage ?? null,
    itemsWithoutVideo: withoutVideo,
    endStage: end?.stage ?? null,
    endKept: end?.stats.kept ?? 0,
    endHours,
    endIsFinal: end !== undefined && end === videoStages.at(-1),
  };
}
