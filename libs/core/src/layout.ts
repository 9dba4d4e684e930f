/**
 * The run layout, as keys relative to the storage root:
 *   runs/<run>/run.json
 *   runs/<run>/<stage>/plan.json, chunks/work-list.jsonl (or chunks/<i>.jsonl), out/<i>-<k>.parquet, done/<i>.json, table.json
 * A stage's table is its chunks' parquet parts in order, listed by table.json (written when every
 * chunk is done): no single-file merge, so no process ever rewrites a whole stage's output.
 *   media/<video-id>/...
 */
const pad = (index: number) => String(index).padStart(6, '0');

export const runLayout = (runId: string) => {
  const root = `runs/${runId}`;
  return {
    root,
    runJson: `${root}/run.json`,
    stage: (stage: string) => {
      const s = `${root}/${stage}`;
      return {
        root: s,
        plan: `${s}/plan.json`,
        chunksPrefix: `${s}/chunks/`,
        chunk: (index: number) => `${s}/chunks/${pad(index)}.jsonl`,
        /** A planned map stage's items, one JSON line each; plan.json gives each chunk's byte range. */
        workList: `${s}/chunks/work-list.jsonl`,
        outPrefix: `${s}/out/`,
        /** The k-th parquet part of chunk `index`'s output. */
        part: (index: number, k: number) => `${s}/out/${pad(index)}-${String(k).padStart(4, '0')}.parquet`,
        partsPrefix: (index: number) => `${s}/out/${pad(index)}-`,
        donePrefix: `${s}/done/`,
        done: (index: number) => `${s}/done/${pad(index)}.json`,
        logs: (index: number) => `${s}/logs/${pad(index)}.log`,
        artifact: (name: string) => `${s}/artifacts/${name}`,
        /** The stage table: its parts in order and the funnel; present once every chunk is done. */
        table: `${s}/table.json`,
      };
    },
  };
};

export type StageLayout = ReturnType<ReturnType<typeof runLayout>['stage']>;

/** Per-video media keys. The id must already be checked with assertVideoId. */
export const mediaLayout = (videoId: string) => ({
  prefix: `media/${videoId}/`,
  video: `media/${videoId}/${videoId}.mp4`,
  info: `media/${videoId}/${videoId}.info.json`,
  subtitles: `media/${videoId}/${videoId}.en.vtt`,
  /** The poster and hover-scrub strip dynamism makes (outside any run: the explorer shows them for a run without export). */
  poster: `media/${videoId}/poster.jpg`,
  strip: `media/${videoId}/strip.jpg`,
  failed: `media/failed/${videoId}.txt`,
});

export const indexFromKey = (key: string): number => {
  const m = /(\d+)\.jsonl?$/.exec(key);
  if (!m) throw new Error(`chunk key: expected a name ending in <index>.json(l), got ${JSON.stringify(key)}`);
  return Number(m[1]);
};
