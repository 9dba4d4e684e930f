/** A chunk is a contiguous slice [start, end) of a stage's ordered work list. */
export interface ChunkRange {
  index: number;
  start: number;
  end: number;
}

export interface ChunkingOptions {
  /** Fixed number of chunks; wins over itemsPerChunk. */
  chunks?: number | undefined;
  /** Target items per chunk when chunks is not set. */
  itemsPerChunk?: number | undefined;
}

/**
 * Splits n items into chunks deterministically: the same n and options always give
 * the same ranges. Sizes differ by at most one; there is never an empty chunk,
 * except the single chunk of an empty work list (so every stage has index 0).
 */
export function planChunks(itemCount: number, options: ChunkingOptions): ChunkRange[] {
  if (!Number.isInteger(itemCount) || itemCount < 0) throw new Error(`item count: expected a non-negative integer, got ${itemCount}`);
  let count: number;
  if (options.chunks !== undefined) {
    if (!Number.isInteger(options.chunks) || options.chunks < 1) throw new Error(`chunks: expected a positive integer, got ${options.chunks}`);
    count = Math.min(options.chunks, Math.max(itemCount, 1));
  } else {
    const per = options.itemsPerChunk ?? 100;
    if (!Number.isInteger(per) || per < 1) throw new Error(`itemsPerChunk: expected a positive integer, got ${per}`);
    count = Math.max(1, Math.ceil(itemCount / per));
  }
  const base = Math.floor(itemCount / count);
  const extra = itemCount % count;
  const ranges: ChunkRange[] = [];
  let start = 0;
  for (let index = 0; index < count; index++) {
    const size = base + (index < extra ? 1 : 0);
    ranges.push({ index, start, end: start + size });
    start += size;
  }
  return ranges;
}

/** Which chunk holds item i, for a plan from planChunks. */
export function chunkOfItem(ranges: ChunkRange[], item: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (item < r.start) hi = mid - 1;
    else if (item >= r.end) lo = mid + 1;
    else return r.index;
  }
  throw new Error(`item ${item}: expected an index below ${ranges.at(-1)?.end ?? 0}, got one outside the plan`);
}

/** Parses Kubernetes index range strings such as "1,3-5,7" into sorted indexes. */
export function parseIndexRanges(text: string | undefined | null): number[] {
  if (!text) return [];
  const out: number[] = [];
  for (const part of text.split(',')) {
    const piece = part.trim();
    if (!piece) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(piece);
    if (!m) throw new Error(`index ranges: expected "n" or "n-m" parts, got ${JSON.stringify(piece)} in ${JSON.stringify(text)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`index ranges: expected ascending range, got ${JSON.stringify(piece)}`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return [...new Set(out)].sort((x, y) => x - y);
}

/** Formats sorted indexes as Kubernetes-style ranges: [1,3,4,5,7] -> "1,3-5,7". */
export function formatIndexRanges(indexes: readonly number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
