import type { Readable } from 'node:stream';
import { mediaLayout, pipelineStages } from '@finevideo/core';
import { readAnnotation, readAnnotator, readArtifact, readExport, readTranscript } from './artifacts.js';
import { headline } from './headline.js';
import { rangeReader, type ByteRange } from './media.js';
import { posterUrl, runPosters, type PosterKind } from './posters.js';
import type { RunIndex } from './run-index.js';
import { readSourceText } from './source-text.js';
import type { ExplorerSource } from './source-types.js';
import type { VideoTable } from './video-table.js';

/**
 * What the explorer's routes read, whatever was opened: a run (its stages' parts, artifacts and media)
 * or a standalone dataset (an export folder, or FineVideo's flat published layout). Every id reaching
 * it was checked by isVideoId first.
 */
export interface ExplorerBackend {
  index: VideoTable & { refresh(): Promise<void>; readonly indexedVideos: number; readonly cacheDir: string; close(): Promise<void> };
  /** The overview's body (/api/run). */
  run(): Promise<Record<string, unknown>>;
  /** Categories, facets and the selection report (/api/dataset). */
  dataset(): Promise<Record<string, unknown>>;
  /** A video's page (/api/videos/:id), or undefined when the id is unknown. */
  video(id: string): Promise<Record<string, unknown> | undefined>;
  /** The video's bytes: its size (undefined: none) and a stream of a range of them. */
  mediaSize(id: string): Promise<number | undefined>;
  mediaRead(id: string, range: ByteRange | undefined): Promise<Readable>;
  /** What the video's 404 says is missing. */
  describeMissingMedia(id: string): string;
  /** The video's poster or hover-scrub strip (JPEG bytes), undefined when none was made. */
  poster(id: string, kind: PosterKind): Promise<Buffer | undefined>;
}

const stringOr = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

/** A run: stages from markers, artifacts, media and annotations from its storage root. */
export function runBackend(source: ExplorerSource, index: RunIndex): ExplorerBackend {
  const store = source.store;
  const media = rangeReader(store, source.manifest.config.s3);
  const poster = runPosters(media, source.runId);
  return {
    index,
    async run() {
      await index.refresh();
      const { manifest } = source;
      const stages = index.stageStates();
      const views = stages.map(({ parts: _parts, ...s }) => s);
      const anomalies: { stage: string; report: unknown }[] = [];
      const reports: { stage: string; name: string; report: unknown }[] = [];
      for (const s of stages) {
        const anomaly = await readArtifact(store, source.runId, s.stage, 'anomalies.json');
        if (anomaly !== undefined) anomalies.push({ stage: s.stage, report: anomaly });
        if (s.type === 'select') {
          const report = await readArtifact(store, source.runId, s.stage, 'report.json');
          if (report !== undefined) reports.push({ stage: s.stage, name: 'report.json', report });
        }
      }
      return {
        kind: 'run', runId: source.runId, ref: source.ref, given: source.given, createdAt: manifest.createdAt, name: manifest.config.name,
        executor: manifest.config.executor.kind,
        complete: stages.length > 0 && stages.every((s) => s.planned && s.sealed && s.done === s.chunks),
        stages: views,
        funnelHours: index.funnelHours(),
        itemErrors: index.itemErrors(),
        headline: headline(views, index.funnelHours(), index.itemErrors()),
        indexedVideos: index.indexedVideos,
        anomalies, reports,
        export: await readExport(store, source.runId),
        refreshedAt: new Date().toISOString(),
      };
    },
    async dataset() {
      await index.refresh();
      const selectStage = index.stageStates().find((s) => s.type === 'select');
      const report = selectStage ? await readArtifact(store, source.runId, selectStage.stage, 'report.json') : undefined;
      const params = selectStage ? pipelineStages(source.manifest.config).find((s) => s.name === selectStage.stage)?.params : undefined;
      return { categories: index.categoryRows(), facets: index.facetValues(), selection: report ?? null, selectParams: params ?? null };
    },
    async video(id) {
      await index.refresh();
      const [row, stageRows, annotation, transcript, size] = await Promise.all([
        index.video(id), index.stageRows(id), readAnnotation(store, id), readTranscript(store, id), media.size(mediaLayout(id).video),
      ]);
      if (!row && !annotation && size === undefined) return undefined;
      const rowWith = (column: string) => stageRows.flatMap((s) => s.rows).find((r) => r[column] !== undefined && r[column] !== null);
      const annotator = annotation ? ((await readAnnotator(store, id)) ?? stringOr(rowWith('annotator')?.annotator)) : null;
      // Without subtitles, the transcript YouTube-Commons has (one text, no times).
      const sourceText = transcript?.length ? null : ((await readSourceText(index.db, rowWith('source_shard') ?? rowWith('text'), source.manifest.config.s3, index.cacheDir)) ?? null);
      return {
        id, video: row ?? null, stages: stageRows, annotation: annotation ?? null, annotator, transcript: transcript ?? null, sourceText,
        media: size === undefined ? null : { size, url: `/media/${id}.mp4` },
        poster: (await poster(id, 'poster')) ? posterUrl(id, 'poster') : null,
      };
    },
    mediaSize: (id) => media.size(mediaLayout(id).video),
    mediaRead: (id, range) => media.read(mediaLayout(id).video, range),
    describeMissingMedia: (id) => `video ${id}: no downloaded file in ${store.uri}`,
    poster,
  };
}
