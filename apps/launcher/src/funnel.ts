import type { StageStats } from '@finevideo/core';

export interface FunnelRow {
  stage: string;
  chunks?: string;
  stats: StageStats;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

/** The funnel as a plain-text table: rows in, kept, dropped and errors per reason. */
export function formatFunnel(rows: FunnelRow[]): string {
  const header = `${pad('stage', 14)}${rows.some((r) => r.chunks) ? pad('chunks', 16) : ''}${lpad('items', 10)}${lpad('kept', 10)}${lpad('dropped', 10)}${lpad('errors', 8)}  reasons`;
  const lines = rows.map((r) => {
    const reasons = Object.entries(r.stats.reasons)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const counters = Object.entries(r.stats.counters).map(([k, v]) => `${k}=${v}`).join(', ');
    return `${pad(r.stage, 14)}${r.chunks !== undefined ? pad(r.chunks, 16) : ''}${lpad(String(r.stats.items), 10)}${lpad(String(r.stats.kept), 10)}${lpad(String(r.stats.dropped), 10)}${lpad(String(r.stats.errors), 8)}  ${reasons}${counters ? ` [${counters}]` : ''}`;
  });
  return [header, ...lines].join('\n');
}
