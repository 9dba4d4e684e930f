import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { runDuckDb, sqlString } from '@finevideo/storage';

// The one seeded generator of product and tests (mulberry32): the same seed always gives the same sample.
import { seededRandom } from '@finevideo/core';

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ra', 'tu', 'vi', 'so', 'pe', 'da', 'gri', 'shen', 'tor', 'ble', 'quan', 'zy', 'mor', 'al', 'ex', 'ion'];
const COMMON = ['the', 'and', 'a', 'to', 'of', 'is', 'in', 'you', 'that', 'it', 'we', 'this', 'so', 'like', 'just', 'video', 'now', 'going', 'really', 'know'];
const TOPICS = ['cooking', 'recipe', 'guitar', 'tutorial', 'game', 'review', 'travel', 'science', 'history', 'workout', 'python', 'camera', 'garden', 'football', 'lecture'];
const LANGUAGES = ['fr', 'de', 'es', 'pt', 'ja', 'ru', 'it'];

export interface YtCommonsSampleOptions {
  shards: number;
  rowsPerShard: number;
  seed?: number;
  /** Average transcript size in bytes (YouTube-Commons averages several KB). */
  averageTextBytes?: number;
  /** Also write one shard of garbage bytes. */
  corruptShard?: boolean;
  /** Parquet compression: snappy (YouTube-Commons' own), zstd or uncompressed. */
  compression?: 'snappy' | 'zstd' | 'uncompressed';
}

/** What the stages must find, tallied from the generator's own row specs (not by running any stage). */
export interface YtCommonsExpectation {
  rows: number;
  shards: number;
  corruptShards: number;
  /** Rows kept by ytcommons (en/en, more than 50 words), by video id. */
  english: string[];
  droppedNotEnglishOriginal: number;
  droppedNotEnglishTranscript: number;
  droppedTooFewWords: number;
  /** Of the English rows: duration that is not h:m:s, m:s or s. */
  unparseableDuration: number;
  /** English rows with word density above 0.5. */
  dense: string[];
  textBytes: number;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function videoId(rnd: () => number): string {
  let id = '';
  for (let i = 0; i < 11; i++) id += ID_ALPHABET[Math.floor(rnd() * 64)];
  return id;
}

function word(rnd: () => number): string {
  if (rnd() < 0.45) return pick(rnd, COMMON);
  if (rnd() < 0.1) return pick(rnd, TOPICS);
  let w = '';
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) w += pick(rnd, SYLLABLES);
  return w;
}

function formatDuration(seconds: number, rnd: () => number): string {
  const r = rnd();
  if (r < 0.02) return '';
  if (r < 0.035) return pick(rnd, ['abc', '1:xx', 'PT4M13S', '-5']);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  if (m > 0) return `${m}:${String(s).padStart(2, '0')}`;
  return String(s);
}

/** The expected duration in seconds of a generated string, parsed here independently of the stage. */
function expectedSeconds(d: string): number | undefined {
  if (d === '') return 0;
  const parts = d.split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+$/.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 60 + Number(p), 0);
}

/**
 * Writes YouTube-Commons-like parquet shards (every contract column, realistic transcripts,
 * a mix of languages and durations, malformed durations, short transcripts; odd shards lack
 * source_language and carry language_id_method instead) and returns what the stages must find.
 */
export async function generateYtCommonsShards(dir: string, options: YtCommonsSampleOptions): Promise<YtCommonsExpectation> {
  const rnd = seededRandom(options.seed ?? 42);
  const averageWords = Math.max(10, Math.round((options.averageTextBytes ?? 6000) / 6.5));
  await mkdir(dir, { recursive: true });
  const expectation: YtCommonsExpectation = {
    rows: 0, shards: options.shards, corruptShards: options.corruptShard ? 1 : 0, english: [], dense: [],
    droppedNotEnglishOriginal: 0, droppedNotEnglishTranscript: 0, droppedTooFewWords: 0, unparseableDuration: 0, textBytes: 0,
  };
  for (let shard = 0; shard < options.shards; shard++) {
    const jsonl = join(dir, `.shard-${shard}.jsonl`);
    const out = createWriteStream(jsonl);
    for (let i = 0; i < options.rowsPerShard; i++) {
      const id = videoId(rnd);
      const original = rnd() < 0.62 ? 'en' : pick(rnd, LANGUAGES);
      const transcription = original === 'en' ? (rnd() < 0.93 ? 'en' : pick(rnd, LANGUAGES)) : rnd() < 0.3 ? 'en' : original;
      const short = rnd() < 0.06;
      const wordCount = short ? Math.floor(rnd() * 50) : Math.max(51, Math.round(averageWords * (0.3 + rnd() * 1.4)));
      const words: string[] = new Array(wordCount);
      for (let w = 0; w < wordCount; w++) words[w] = word(rnd);
      const text = words.join(' ');
      // Most talk at 1.5-3 words/s; some are mostly music or silence (below 0.5 words/s).
      const rate = rnd() < 0.15 ? 0.05 + rnd() * 0.4 : 1.2 + rnd() * 1.8;
      const seconds = Math.max(1, Math.round(wordCount / rate));
      const duration = formatDuration(seconds, rnd);
      const channelNo = Math.floor(rnd() * 200);
      const row: Record<string, unknown> = {
        acodec: 'opus', age_limit: 0, categories: [pick(rnd, ['Education', 'People & Blogs', 'Howto & Style', 'Gaming', 'Music'])],
        channel: `Channel ${channelNo}`, channel_follower_count: Math.floor(rnd() * 1_000_000), channel_id: `UC${String(channelNo).padStart(22, '0')}`,
        character_count: text.length, comment_count: Math.floor(rnd() * 5000), date: '2023-05-01', description: `A ${pick(rnd, TOPICS)} video.`,
        duration_string: duration, language: original, license: 'CC-BY 3.0', like_count: Math.floor(rnd() * 100_000),
        original_language: original, resolution: pick(rnd, ['640x360', '1280x720', '1920x1080']), tags: [pick(rnd, TOPICS), pick(rnd, TOPICS)],
        text, title: `${pick(rnd, TOPICS)} ${pick(rnd, TOPICS)} part ${i}`, transcription_language: transcription,
        upload_date: '20230501', vcodec: 'vp9', video_id: id, video_link: `https://www.youtube.com/watch?v=${id}`,
        view_count: Math.floor(rnd() * 10_000_000), word_count: wordCount,
      };
      if (shard % 2 === 0) row.source_language = original;
      else row.language_id_method = original;
      if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
      expectation.rows++;
      expectation.textBytes += text.length;
      if (original !== 'en') expectation.droppedNotEnglishOriginal++;
      else if (transcription !== 'en') expectation.droppedNotEnglishTranscript++;
      else if (wordCount <= 50) expectation.droppedTooFewWords++;
      else {
        expectation.english.push(id);
        const s = expectedSeconds(duration);
        if (s === undefined) expectation.unparseableDuration++;
        else if (s > 0 && wordCount / s > 0.5) expectation.dense.push(id);
      }
    }
    out.end();
    await once(out, 'close');
    const target = join(dir, `part-${String(shard).padStart(5, '0')}.parquet`);
    const langColumn = shard % 2 === 0 ? 'source_language' : 'language_id_method';
    await runDuckDb(`COPY (SELECT * FROM read_json(${sqlString(jsonl)}, format = 'newline_delimited', maximum_object_size = 33554432, columns = {
      acodec: 'VARCHAR', age_limit: 'BIGINT', categories: 'VARCHAR[]', channel: 'VARCHAR', channel_follower_count: 'BIGINT', channel_id: 'VARCHAR',
      character_count: 'BIGINT', comment_count: 'BIGINT', date: 'VARCHAR', description: 'VARCHAR', duration_string: 'VARCHAR', language: 'VARCHAR',
      license: 'VARCHAR', like_count: 'BIGINT', original_language: 'VARCHAR', resolution: 'VARCHAR', tags: 'VARCHAR[]', text: 'VARCHAR',
      title: 'VARCHAR', transcription_language: 'VARCHAR', upload_date: 'VARCHAR', vcodec: 'VARCHAR', video_id: 'VARCHAR', video_link: 'VARCHAR',
      view_count: 'BIGINT', word_count: 'BIGINT', ${langColumn}: 'VARCHAR'
    })) TO ${sqlString(target)} (FORMAT parquet, COMPRESSION ${options.compression ?? 'snappy'}, ROW_GROUP_SIZE 2048)`);
    await rm(jsonl, { force: true });
  }
  if (options.corruptShard) {
    // Starts like parquet, then garbage: readers fail on it, as on a truncated download.
    await writeFile(join(dir, `part-${String(options.shards).padStart(5, '0')}-corrupt.parquet`), Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(4096, 7)]));
  }
  expectation.english.sort();
  expectation.dense.sort();
  return expectation;
}
