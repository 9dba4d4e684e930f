import { errorMessage, type ItemContext } from '@finevideo/core';
import { DEFAULT_POSTER_OPTIONS, makePosterAndStrip } from '@finevideo/media';

/** Where a video's poster and strip go, as keys (a store prefix) or paths (relative to an export root). The id must already be checked. */
export interface PosterKeys {
  poster: string;
  strip: string;
}

/** A video's poster and strip paths inside an export (beside data/, named in index.parquet and export.json). */
export const exportPosterPaths = (videoId: string): PosterKeys => ({ poster: `posters/${videoId}.jpg`, strip: `posters/${videoId}.strip.jpg` });

/**
 * Makes a video's poster and strip (one decode) and stores them under the given keys. A video whose poster
 * fails keeps its row: the failure is a counted warning (`poster_warnings`) and the result is null. An
 * abort is rethrown (the chunk stops), as is a storage failure (the machine's, retried).
 */
export async function storePosters(ctx: Pick<ItemContext<unknown>, 'signal' | 'count' | 'log' | 'store'>, videoId: string, videoPath: string, durationSeconds: number | undefined, keys: PosterKeys): Promise<PosterKeys | null> {
  let images;
  try {
    const duration = durationSeconds !== undefined && Number.isFinite(durationSeconds) && durationSeconds > 0 ? durationSeconds : undefined;
    images = await makePosterAndStrip(videoPath, { ...DEFAULT_POSTER_OPTIONS, durationSeconds: duration, signal: ctx.signal });
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    ctx.count('poster_warnings');
    ctx.log.warn(`${videoId}: no poster: ${errorMessage(e)}`);
    return null;
  }
  await ctx.store.put(keys.poster, images.poster.jpeg, { contentType: 'image/jpeg' });
  await ctx.store.put(keys.strip, images.strip.jpeg, { contentType: 'image/jpeg' });
  ctx.count('posters');
  return keys;
}
