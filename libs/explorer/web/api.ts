export type { CategoryRow, Facets, FunnelHours, TranscriptCue, StageStatsView as StageStats, StageStateView as StageState } from '../src/api-types.js';
import type { CategoryRow, Facets, FunnelHours, TranscriptCue, StageStateView as StageState } from '../src/api-types.js';

/** Typed GETs of the explorer's API (the server validates every parameter; errors come back as {error}). */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, signal ? { signal } : {});
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${path}: HTTP ${response.status}`);
  return body;
}

export interface RunView {
  /** A run, or a dataset folder opened on its own (then one "export" stage, no artifacts). */
  kind: 'run' | 'dataset';
  layout?: 'export' | 'flat';
  runId: string;
  ref: string;
  name: string;
  createdAt: string | null;
  executor: string | null;
  complete: boolean;
  stages: StageState[];
  funnelHours: FunnelHours[];
  itemErrors: { stage: string; status: string; reason: string | null; item: string | null }[];
  headline: {
    videosSeen: number; firstStage: string | null; itemsWithoutVideo: number;
    endStage: string | null; endKept: number; endHours: number; endIsFinal: boolean;
  };
  indexedVideos: number;
  anomalies: { stage: string; report: unknown }[];
  reports: { stage: string; name: string; report: unknown }[];
  export: { prefix: string; card: boolean; files: { key: string; size: number }[]; bytes: number } | undefined;
  refreshedAt: string;
}

export interface SelectionReport {
  targetHours: number;
  selectedHours: number;
  videos: number;
  byCategory: Record<string, { videos: number; hours: number }>;
  byTopLevel: Record<string, { videos: number; hours: number }>;
  notSelected?: Record<string, number>;
}

export interface DatasetView {
  categories: CategoryRow[];
  facets: Facets;
  selection: SelectionReport | null;
}

export interface VideoRow {
  video_id: string;
  title: string | null;
  channel: string | null;
  duration: number | null;
  category: string | null;
  top_level: string | null;
  stage: string | null;
  status: string | null;
  reason: string | null;
  selected: boolean | null;
}

export interface VideoPage {
  total: number;
  page: number;
  pageSize: number;
  rows: VideoRow[];
}

export interface Span {
  start_timestamp?: string;
  end_timestamp?: string;
}

export interface SceneView {
  sceneId?: number;
  title?: string;
  timestamps?: Span;
  cast?: string[];
  activities?: { description?: string; timestamp?: Span }[];
  props?: { name?: string; timestamp?: Span }[];
  videoEditingDetails?: { description?: string; timestamps?: Span }[];
  mood?: { description?: string; keyMoments?: { timestamp?: string; changeDescription?: string }[] };
  narrativeProgression?: { description?: string; timestamp?: string }[];
  characterInteraction?: { characters?: string[]; description?: string }[];
  thematicElements?: string;
  contextualRelevance?: string;
  dynamismScore?: number;
  audioVisualCorrelation?: number;
}

export interface ContentMetadataView {
  title?: string;
  description?: string;
  fps?: number;
  characterList?: { characterId?: string; name?: string; description?: string }[];
  scenes?: SceneView[];
  storylines?: { description?: string; scenes?: number[]; climax?: { description?: string; timestamp?: string } };
  qAndA?: { question?: string; answer?: string }[];
  trimmingSuggestions?: { description?: string; timestamps?: Span }[];
}

export interface VideoDetail {
  id: string;
  video: VideoRow | null;
  stages: { stage: string; runLevel: boolean; rows: Record<string, unknown>[] }[];
  /** "baseline annotator" (no model) or the backend that annotated the video. */
  annotator: string | null;
  /** The YouTube-Commons transcript when no subtitles were downloaded (no times). */
  sourceText: string | null;
  annotation: { source: 'aligned' | 'annotations'; key: string; valid: boolean; problems: string[]; contentMetadata: ContentMetadataView; provenance: Record<string, unknown> } | null;
  transcript: TranscriptCue[] | null;
  media: { size: number; url: string } | null;
  /** The poster made at export or by dynamism (shown before the video plays), or null. */
  poster: string | null;
}
