import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isVideoId, mediaLayout, type ObjectStore } from '@finevideo/core';
import type { RangeReader } from './media.js';

/** A video's poster (one frame) or its hover-scrub strip (frames in a row): made at export or by dynamism, never here. */
export type PosterKind = 'poster' | 'strip';

/** Where a backend finds a video's images: the bytes, or undefined when there are none for it. */
export type PosterSource = (id: string, kind: PosterKind) => Promise<Buffer | undefined>;

/** `<id>.jpg` or `<id>.strip.jpg` (the export's names), or undefined for anything else. */
export function parsePosterFile(file: string): { id: string; kind: PosterKind } | undefined {
  const m = /^(.{11})(\.strip)?\.jpg$/.exec(file);
  if (!m || !isVideoId(m[1]!)) return undefined;
  return { id: m[1]!, kind: m[2] ? 'strip' : 'poster' };
}

/** The page's URL of a video's poster or strip. */
export const posterUrl = (id: string, kind: PosterKind) => `/posters/${id}${kind === 'strip' ? '.strip' : ''}.jpg`;

/** Where an export keeps them, relative to its root (as export writes them and index.parquet names them). */
const exportImagePath = (id: string, kind: PosterKind) => `posters/${id}${kind === 'strip' ? '.strip' : ''}.jpg`;

/** Reads a whole image (tens of KB): a stream's bytes. */
async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A run's images: the export's (export/<run>/posters/) when the run was exported, else dynamism's
 * (media/<id>/poster.jpg, strip.jpg). The id was checked with isVideoId.
 */
export function runPosters(media: RangeReader, runId: string): PosterSource {
  return async (id, kind) => {
    for (const key of [`export/${runId}/${exportImagePath(id, kind)}`, mediaLayout(id)[kind]]) {
      if ((await media.size(key)) !== undefined) return bytesOf(await media.read(key, undefined));
    }
    return undefined;
  };
}

/** A dataset folder's images (posters/ beside data/), or undefined when it has none for the id. */
export function folderPosters(root: string): PosterSource {
  return async (id, kind) => {
    try {
      return await readFile(join(root, exportImagePath(id, kind)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
}

/**
 * A dataset's images where it lies in storage (an S3 prefix): fetched when the page asks for one, since a
 * dataset of millions of videos has millions of them and only the shards are copied when it opens.
 */
export function storedPosters(store: ObjectStore): PosterSource {
  return async (id, kind) => {
    const key = exportImagePath(id, kind);
    return (await store.exists(key)) ? store.get(key) : undefined;
  };
}
