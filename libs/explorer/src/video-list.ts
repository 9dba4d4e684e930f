import type { VideoFilter, VideoTable } from './video-table.js';

/** The columns of the CSV download, in order. */
export const CSV_COLUMNS = ['video_id', 'title', 'channel', 'duration', 'category', 'top_level', 'stage', 'status', 'reason', 'selected'] as const;

/**
 * One CSV field (RFC 4180). Text a spreadsheet would run as a formula (a title starting with =, +, -, @)
 * gets a leading apostrophe: titles and channels come from uploaders.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The filtered list as CSV lines, streamed a DuckDB chunk at a time. */
export async function* videoCsv(table: VideoTable, filter: VideoFilter): AsyncGenerator<string> {
  yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const rows of table.eachRow(filter)) {
    yield rows.map((r) => `${CSV_COLUMNS.map((c) => csvField(r[c])).join(',')}\r\n`).join('');
  }
}

/** The filtered list's ids, one a line: the format of export's `excludeIds` file (# lines are comments). */
export async function* videoIds(table: VideoTable, filter: VideoFilter): AsyncGenerator<string> {
  for await (const rows of table.eachRow(filter)) yield rows.map((r) => `${String(r.video_id)}\n`).join('');
}
