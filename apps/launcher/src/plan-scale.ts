import { ConfigError, MAX_COMPLETIONS_PER_JOB, parseOrThrow, pipelineStages, type ObjectStore, type PipelineConfig, type PipelineStage } from '@finevideo/core';
import { followingStages, poolOf, readJsonObject, type ChunkMarker } from '@finevideo/runtime';
import { stageByType } from '@finevideo/stages';

/**
 * Per-item costs of a stage type when no earlier run measured them: what one input item costs a pod
 * (wall seconds, CPU- or network-bound), the share of items kept, and bytes written per item.
 * Rough public figures for YouTube-Commons-like input (a 5-minute 360p video is ~25 MB).
 */
export const DEFAULT_ITEM_COSTS: Record<string, { podSeconds: number; keep: number; bytesWritten: number; rowsPerItem?: number; note?: string }> = {
  // Per metadata row; its work items are parquet shards of about 2,000 rows.
  ytcommons: { podSeconds: 0.0005, keep: 0.45, bytesWritten: 400, rowsPerItem: 2000 },
  worddensity: { podSeconds: 0.0002, keep: 0.7, bytesWritten: 120 },
  download: { podSeconds: 40, keep: 0.9, bytesWritten: 25e6, note: 'network-bound: yt-dlp at ~5 MB/s per pod incl. page and retries' },
  dynamism: { podSeconds: 25, keep: 0.65, bytesWritten: 300 },
  classify: { podSeconds: 0.6, keep: 0.95, bytesWritten: 300, note: 'an LLM call on TGI (GPU pool holds the model server)' },
  select: { podSeconds: 0.00005, keep: 1, bytesWritten: 200 },
  annotate: { podSeconds: 45, keep: 0.95, bytesWritten: 20_000, note: 'one Gemini call per video (network-bound wait)' },
  align: { podSeconds: 20, keep: 0.97, bytesWritten: 20_000 },
  anomaly: { podSeconds: 0.01, keep: 0.93, bytesWritten: 20_000 },
  export: { podSeconds: 2, keep: 1, bytesWritten: 25e6 },
};
const FALLBACK_COST = { podSeconds: 1, keep: 1, bytesWritten: 1000 };

export interface ClusterSize {
  /** CPU nodes (16 vCPU each) and GPU nodes. */
  cpu: number;
  gpu: number;
}
/** vCPUs of a CPU node; a network-bound stage's pods oversubscribe them this many times. */
export const CPU_NODE_VCPUS = 16;
export const NETWORK_OVERSUBSCRIPTION = 4;

export interface StageEstimate {
  stage: string;
  type: string;
  pool: 'cpu' | 'gpu' | 'network';
  items: number;
  kept: number;
  chunks: number;
  jobs: number;
  pods: number;
  /** Pods the pool holds at once (its nodes' room). */
  poolPods: number;
  podHours: number;
  wallHours: number;
  bytesWritten: number;
  /** Where the per-item cost came from. */
  source: 'measured' | 'default';
  streamed: boolean;
  estimate?: string;
}

export interface ScaleEstimate {
  videos: number;
  /** Hours select keeps (the annotate line's); hoursAsked when the pipeline has no select. */
  hours: number;
  hoursAsked: number;
  cluster: ClusterSize;
  stages: StageEstimate[];
  wallHoursStageByStage: number;
  wallHoursStreaming: number;
  bottleneck: string;
}

/** Parses "cpu=40,gpu=4" (either may be left out). */
export function parseNodes(text: string | undefined): ClusterSize {
  const out: ClusterSize = { cpu: 40, gpu: 4 };
  if (!text) return out;
  for (const part of text.split(',')) {
    const m = /^(cpu|gpu)=(\d+)$/.exec(part.trim());
    if (!m) throw new ConfigError(`--nodes: expected "cpu=<n>,gpu=<n>", got ${JSON.stringify(text)}`);
    out[m[1] as keyof ClusterSize] = Number(m[2]);
  }
  return out;
}

/**
 * Measured per-item costs of a stage from earlier runs in the same storage: the mean chunk wall time
 * per item and the keep share over up to 200 markers of the newest runs that ran this stage type.
 */
export async function measuredCost(store: ObjectStore, stageName: string): Promise<{ podSeconds: number; keep: number } | undefined> {
  const runs: string[] = [];
  for await (const { key } of store.list('runs/')) {
    const m = /^runs\/([^/]+)\/run\.json$/.exec(key);
    if (m) runs.push(m[1]!);
    if (runs.length > 1000) break;
  }
  let items = 0;
  let kept = 0;
  let ms = 0;
  let markers = 0;
  for (const runId of runs.sort().reverse()) {
    for await (const { key } of store.list(`runs/${runId}/${stageName}/done/`)) {
      const marker = await readJsonObject<ChunkMarker & { durationMs?: number }>(store, key);
      if (!marker || typeof marker.durationMs !== 'number' || !marker.stats.items) continue;
      // Bulk stages count work items (ytcommons: shards) but keep and drop rows: cost and keep share
      // are per row seen, the unit the estimate multiplies by.
      const { stats } = marker;
      items += Math.max(stats.items, stats.kept + stats.dropped + stats.errors);
      kept += stats.kept;
      ms += marker.durationMs;
      if (++markers >= 200) break;
    }
    if (markers >= 200) break;
  }
  if (!items) return undefined;
  return { podSeconds: ms / 1000 / items, keep: Math.min(1, kept / items) };
}

/**
 * The run of `videos` source videos of which about `hours` are selected for annotation: per stage,
 * items, chunks and Indexed Jobs (at most 100,000 completions each), pods and pod-hours per pool,
 * storage written, the stage's own cost line (planEstimate: annotate's tokens and dollars), and the
 * wall time stage by stage and streaming (stages that follow share their pools' pods at once).
 */
export async function estimateScale(config: PipelineConfig, options: { videos: number; hours?: number; cluster: ClusterSize; store?: ObjectStore; averageVideoSeconds?: number }): Promise<ScaleEstimate> {
  const stages = pipelineStages(config);
  const follows = followingStages(config, stageByType);
  const averageSeconds = options.averageVideoSeconds ?? 290;
  const selectCfg = stages.find((s) => s.stage === 'select');
  const hours = options.hours ?? Number((selectCfg?.params as { targetHours?: number } | undefined)?.targetHours ?? 4500);
  const cluster = options.cluster;
  const out: StageEstimate[] = [];
  let items = options.videos;
  // What select keeps, in hours: the annotate line's hours (fewer than asked when fewer videos reach select).
  let selectedHours: number | undefined;
  for (const [i, s] of stages.entries()) {
    const stage = stageByType(s.stage);
    const measured = options.store ? await measuredCost(options.store, s.name) : undefined;
    const cost = { ...(DEFAULT_ITEM_COSTS[s.stage] ?? FALLBACK_COST), ...(measured ?? {}) };
    let kept = Math.round(items * cost.keep);
    // select keeps the videos that fill the hours asked for.
    if (s.stage === 'select') {
      kept = Math.min(items, Math.round((hours * 3600) / averageSeconds));
      selectedHours = (kept * averageSeconds) / 3600;
    }
    const pool = poolOf(stage);
    const perChunk = s.itemsPerChunk ?? (stage.kind === 'map' ? stage.defaultItemsPerChunk : items);
    const workItems = Math.ceil(items / ((DEFAULT_ITEM_COSTS[s.stage]?.rowsPerItem) ?? 1));
    const chunks = stage.kind === 'global' ? 1 : s.chunks ?? Math.max(1, Math.ceil(workItems / perChunk));
    const cpuPerPod = Math.max(0.1, Number.parseFloat(stage.resources.cpu) || 1);
    const podsOfPool = pool === 'gpu' ? cluster.gpu * Math.max(1, 8 / Math.max(1, stage.resources.gpu ?? 1))
      : Math.floor((cluster.cpu * CPU_NODE_VCPUS * (pool === 'network' ? NETWORK_OVERSUBSCRIPTION : 1)) / cpuPerPod);
    if (podsOfPool < 1) {
      throw new ConfigError(`--nodes: stage ${s.name} runs in the ${pool} pool, which needs ${pool === 'gpu' ? 'gpu' : 'cpu'} nodes, got ${pool === 'gpu' ? `gpu=${cluster.gpu}` : `cpu=${cluster.cpu}`}`);
    }
    const executorParallelism = config.executor.kind === 'kubernetes' ? config.executor.parallelism : Number.MAX_SAFE_INTEGER;
    const jobs = stage.kind === 'global' ? 1 : Math.ceil(chunks / MAX_COMPLETIONS_PER_JOB);
    // Pods at once: one per chunk, at most the pool's room and the Jobs' parallelism.
    const pods = Math.max(1, Math.min(chunks, podsOfPool, stage.kind === 'global' ? 1 : executorParallelism * jobs));
    const podHours = (items * cost.podSeconds) / 3600;
    const wallHours = podHours / pods;
    let estimate: string | undefined;
    if (stage.kind === 'map' && stage.planEstimate) {
      const params: unknown = parseOrThrow(stage.params, s.params, `params of stage ${s.name}`);
      const count = items;
      estimate = await stage.planEstimate((async function* () {
        for (let k = 0; k < count; k++) yield { video_id: `v${k}`, duration_seconds: averageSeconds };
      })(), params);
    }
    out.push({
      stage: s.name, type: s.stage, pool, items, kept, chunks, jobs, pods, poolPods: podsOfPool, podHours, wallHours, bytesWritten: kept * cost.bytesWritten,
      source: measured ? 'measured' : 'default', streamed: follows[i] === true, ...(estimate ? { estimate } : {}),
    });
    items = kept;
  }
  const wallHoursStageByStage = out.reduce((t, s) => t + s.wallHours, 0);
  // Streaming: a run of following stages shares each pool; its wall time is the busiest pool's work.
  let wallHoursStreaming = 0;
  for (let i = 0; i < out.length; ) {
    let j = i + 1;
    while (j < out.length && out[j]!.streamed) j++;
    const segment = out.slice(i, j);
    // Stages of one pool share its room; each is still bounded by its own pods (chunks, parallelism).
    const byPool = new Map<string, { podHours: number; pods: number; room: number; longest: number }>();
    for (const s of segment) {
      const p = byPool.get(s.pool) ?? { podHours: 0, pods: 0, room: s.poolPods, longest: 0 };
      p.podHours += s.podHours;
      p.pods += s.pods;
      p.longest = Math.max(p.longest, s.wallHours);
      byPool.set(s.pool, p);
    }
    wallHoursStreaming += Math.max(...[...byPool.values()].map((p) => Math.max(p.longest, p.podHours / Math.max(1, Math.min(p.room, p.pods)))));
    i = j;
  }
  const bottleneck = out.reduce((a, b) => (b.wallHours > a.wallHours ? b : a)).stage;
  return { videos: options.videos, hours: selectedHours ?? hours, hoursAsked: hours, cluster, stages: out, wallHoursStageByStage, wallHoursStreaming, bottleneck };
}

const human = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`);
const bytesText = (b: number) => (b >= 1e12 ? `${(b / 1e12).toFixed(1)} TB` : b >= 1e9 ? `${(b / 1e9).toFixed(1)} GB` : `${(b / 1e6).toFixed(1)} MB`);

export function formatScaleEstimate(e: ScaleEstimate): string {
  const header = ['stage', 'pool', 'items', 'kept', 'chunks', 'jobs', 'pods', 'pod-h', 'wall-h', 'written', 'cost from'];
  const rows = e.stages.map((s) => [
    `${s.stage}${s.streamed ? ' (follows)' : ''}`, s.pool, human(s.items), human(s.kept), human(s.chunks), String(s.jobs), human(s.pods),
    s.podHours.toFixed(1), s.wallHours.toFixed(2), bytesText(s.bytesWritten), s.source,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const podHoursByPool = new Map<string, number>();
  for (const s of e.stages) podHoursByPool.set(s.pool, (podHoursByPool.get(s.pool) ?? 0) + s.podHours);
  const lines = [
    `estimate for ${human(e.videos)} videos, ${e.hours.toFixed(2)} h selected${e.hours < e.hoursAsked * 0.99 ? ` (of ${e.hoursAsked} h asked: fewer videos reach select)` : ''}; cluster: ${e.cluster.cpu} CPU nodes (${CPU_NODE_VCPUS} vCPU), ${e.cluster.gpu} GPU nodes`,
    line(header), ...rows.map(line),
    `pod-hours per pool: ${[...podHoursByPool].map(([p, h]) => `${p} ${h.toFixed(0)}`).join(', ')}; storage written: ${bytesText(e.stages.reduce((t, s) => t + s.bytesWritten, 0))}`,
    `wall time: ${e.wallHoursStageByStage.toFixed(1)} h stage by stage, ${e.wallHoursStreaming.toFixed(1)} h streaming; bottleneck: ${e.bottleneck}`,
    ...e.stages.filter((s) => s.estimate).map((s) => `${s.stage}: ${s.estimate}`),
    `Indexed Jobs: at most ${MAX_COMPLETIONS_PER_JOB.toLocaleString('en')} completions each; per-index backoff (backoffLimitPerIndex) bounds retries per chunk`,
  ];
  return lines.join('\n');
}

export type { PipelineStage };
