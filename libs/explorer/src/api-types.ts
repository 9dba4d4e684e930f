/**
 * The shapes the explorer's API sends, shared by the server (src/) and the page (web/), which imports them
 * as types only: this module imports nothing, so the browser bundle and the web tsconfig can read it.
 */

/** A stage's funnel counts (the shape of @finevideo/core's StageStats on the wire). */
export interface StageStatsView {
  items: number;
  kept: number;
  dropped: number;
  errors: number;
  reasons: Record<string, number>;
  counters: Record<string, number>;
}

/** One stage of the run as the overview shows it. */
export interface StageStateView {
  stage: string;
  type: string;
  position: number;
  planned: boolean;
  chunks: number;
  done: number;
  failed: number;
  pending: number;
  sealed: boolean;
  /** A stage about the run as a whole (export-card: the dataset card), whose rows name no video. */
  runLevel: boolean;
  stats: StageStatsView;
}

export interface FunnelHours {
  stage: string;
  status: string;
  reason: string | null;
  videos: number;
  hours: number;
}

export interface Facets {
  statuses: { value: string; videos: number }[];
  stages: { value: string; videos: number }[];
  reasons: { stage: string; status: string; value: string; videos: number }[];
  categories: { value: string; topLevel: string | null; videos: number }[];
  topLevels: { value: string; videos: number }[];
  durations: { min: number | null; max: number | null };
}

export interface CategoryRow {
  category: string;
  topLevel: string | null;
  candidates: number;
  candidateHours: number;
  selected: number;
  selectedHours: number;
}

/** A cue of the video's subtitles: seconds and text. */
export interface TranscriptCue {
  start: number;
  end: number;
  text: string;
}
