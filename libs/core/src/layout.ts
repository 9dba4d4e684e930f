/**
 * The run layout, as keys relative to the storage root:
 *   runs/<run>/run.json, runs/<run>/<stage>/{plan.json, chunks/*.jsonl, out/*.parquet, done/, table.parquet}
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
        outPrefix: `${s}/out/`,
        out: (index: number) => `${s}/out/${pad(index)}.parquet`,
        donePrefix: `${s}/done/`,
        done: (index: number) => `${s}/done/${pad(index)}.json`,
        logs: (index: number) => `${s}/logs/${pad(index)}.log`,
        artifact: (name: string) => `${s}/artifacts/${name}`,
        table: `${s}/table.parquet`,
        tableDone: `${s}/table.done.json`,
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
  failed: `media/failed/${videoId}.txt`,
});

export const indexFromKey = (key: string): number => {
  const m = /(\d+)\.jsonl?$/.exec(key);
  if (!m) throw new Error(`chunk key: expected a name ending in <index>.json(l), got ${JSON.stringify(key)}`);
  return Number(m[1]);
};
