import { z } from 'zod';
import { alignedContentMetadataSchema } from './annotation.js';
import { hfFeatures, type HfFeature } from './hf-features.js';

/**
 * One row of the published dataset (HuggingFaceFV/finevideo): `mp4` (the video's bytes) and `json`,
 * the struct below. Field names and types follow the published card: dataset_info.features for
 * content_metadata (checked in annotation.test.ts) and the card's "Data Fields" for the video's own
 * metadata (duration_seconds, resolution, the youtube_* fields of YouTube-Commons), the file names the row
 * was built from (original_json_filename, original_video_filename: the YouTube id names both) and the transcript
 * (text_to_speech, and timecoded_text_to_speech as {start, end, text} HH:MM:SS.mmm segments).
 *
 * The card lists struct fields in alphabetical order (as `datasets` wrote them); exportFeatures() and
 * exportDuckDbType() both sort, so the parquet schema and the card's features are the same list.
 */
const count = z.number().int();

export const timecodedSegmentSchema = z.strictObject({ start: z.string(), end: z.string(), text: z.string() });

export const exportJsonSchema = z.strictObject({
  content_parent_category: z.string(),
  content_fine_category: z.string(),
  content_metadata: alignedContentMetadataSchema,
  /** The files the row was built from, as published FineVideo rows name them: `<id>.json` and `<id>.mp4`. */
  original_json_filename: z.string().regex(/^[A-Za-z0-9_-]{11}\.json$/, 'expected <video id>.json'),
  original_video_filename: z.string().regex(/^[A-Za-z0-9_-]{11}\.mp4$/, 'expected <video id>.mp4'),
  /** The exported file's own duration (ffprobe, rounded seconds) and frame size (`<width>x<height>`), not YouTube's metadata. */
  duration_seconds: count,
  resolution: z.string(),
  text_to_speech: z.string(),
  text_to_speech_word_count: count,
  timecoded_text_to_speech: z.array(timecodedSegmentSchema),
  youtube_title: z.string(),
  youtube_description: z.string(),
  youtube_categories: z.array(z.string()),
  youtube_tags: z.array(z.string()),
  youtube_channel: z.string(),
  youtube_view_count: count,
  youtube_comment_count: count,
  youtube_like_count: count,
  youtube_channel_follower_count: count,
  youtube_upload_date: z.string(),
  youtube_age_limit: count,
});

export type ExportJson = z.infer<typeof exportJsonSchema>;
export type TimecodedSegment = z.infer<typeof timecodedSegmentSchema>;

/** Fields in the card's order: by name, at every depth. */
export function sortFeatures(features: HfFeature[]): HfFeature[] {
  return [...features].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => {
    if ('struct' in f) return { name: f.name, struct: sortFeatures(f.struct) };
    if ('list' in f) return { name: f.name, list: sortFeatures(f.list) };
    return f;
  });
}

/** dataset_info.features of the export: what the card says and what the parquet holds. */
export function exportFeatures(): HfFeature[] {
  return [{ name: 'mp4', dtype: 'binary' }, { name: 'json', struct: sortFeatures(hfFeatures(exportJsonSchema.shape)) }];
}

const DUCKDB_VALUE: Record<string, string> = { string: 'VARCHAR', int64: 'BIGINT', float64: 'DOUBLE', bool: 'BOOLEAN', binary: 'BLOB' };

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

function duckDbValue(dtype: string, where: string): string {
  const t = DUCKDB_VALUE[dtype];
  if (!t) throw new Error(`${where}: expected a dtype of ${Object.keys(DUCKDB_VALUE).join(', ')}, got ${dtype}`);
  return t;
}

/** The DuckDB type of one feature (STRUCT, LIST of STRUCT, LIST of value, value). */
export function duckDbTypeOf(feature: HfFeature): string {
  if ('struct' in feature) return `STRUCT(${feature.struct.map((f) => `${ident(f.name)} ${duckDbTypeOf(f)}`).join(', ')})`;
  if ('list' in feature) return `STRUCT(${feature.list.map((f) => `${ident(f.name)} ${duckDbTypeOf(f)}`).join(', ')})[]`;
  if ('sequence' in feature) return `${duckDbValue(feature.sequence, feature.name)}[]`;
  return duckDbValue(feature.dtype, feature.name);
}

/** The DuckDB type of the `json` column, generated from the same features the card lists. */
export function exportJsonDuckDbType(): string {
  const json = exportFeatures().find((f) => f.name === 'json');
  return duckDbTypeOf(json!);
}

/** The file names a published row gives its video: `<id>.json` and `<id>.mp4` (a copied row still names its video). */
export function originalFilenames(videoId: string): Pick<ExportJson, 'original_json_filename' | 'original_video_filename'> {
  return { original_json_filename: `${videoId}.json`, original_video_filename: `${videoId}.mp4` };
}

/** The YouTube id of a row, from its original_video_filename (as code reading the published dataset derives it). */
export function videoIdOfRow(json: Pick<ExportJson, 'original_video_filename'>): string {
  return json.original_video_filename.replace(/\.mp4$/, '');
}
