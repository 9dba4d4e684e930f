/**
 * Dynamism filter benchmark: the original per-segment method (one ffmpeg per 60 s),
 * our one-pass full mode, our key-frame fast mode, and a plain decode (the floor),
 * side by side on generated videos.
 *
 *   node --import tsx tools/bench/dynamism.ts                      # small: 5 short 240p videos
 *   node --import tsx tools/bench/dynamism.ts --minutes 1,2,3,4,5 --heights 360,720 --fps 30
 *
 * Flags: --minutes (durations, one video each per height), --heights, --fps, --grain (motion noise),
 * --preset (x264), --repeat (rounds per video, methods in rotated order, the median per method is kept), --dir (keep the videos there).
 */
import { mkdtemp, rm, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeOnly, detectFrozenSegments, detectFrozenSegmentsPerSegment, probe, type FreezeVerdict } from '@finevideo/media';
import { generateVideo, type VideoSection } from '@finevideo/testing';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1,1.5,2,1,2' },
    heights: { type: 'string', default: '240' },
    fps: { type: 'string', default: '25' },
    grain: { type: 'string', default: '12' },
    preset: { type: 'string', default: 'veryfast' },
    repeat: { type: 'string', default: '1' },
    dir: { type: 'string' },
  },
});

const minutes = flags.minutes.split(',').map(Number);
const heights = flags.heights.split(',').map(Number);
const fps = Number(flags.fps);
const grain = Number(flags.grain);
const repeat = Math.max(1, Number(flags.repeat));

/** Content patterns that give a mix of verdicts, some near the thresholds. */
function sections(pattern: number, seconds: number): VideoSection[] {
  const out: VideoSection[] = [];
  const push = (kind: VideoSection['kind'], s: number) => {
    const left = seconds - out.reduce((sum, x) => sum + x.seconds, 0);
    if (left > 0) out.push({ kind, seconds: Math.min(s, left), grain: kind === 'motion' ? grain : undefined, noise: kind === 'still' });
  };
  while (out.reduce((sum, x) => sum + x.seconds, 0) < seconds) {
    switch (pattern % 5) {
      case 0: push('motion', seconds); break; // dynamic throughout
      case 1: push('still', seconds * 0.7); push('motion', seconds); break; // mostly a still slide
      case 2: push('still', 55); push('motion', 25); break; // 55 s stills, rarely aligned with segments
      case 3: push('motion', 30); push('still', 52); push('motion', 40); break; // freezes near the 50 s minimum
      case 4: push('still', 45); push('motion', 3); break; // stills broken before they reach 50 s
    }
  }
  return out;
}

interface Case { name: string; file: string; seconds: number; height: number }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/**
 * Times the methods on one video, `repeat` rounds, each round in a rotated order, so a slow
 * spell of a shared machine (or a warm page cache) does not fall on one method only; the
 * median per method is kept.
 */
async function timedRounds<M extends Record<string, () => Promise<unknown>>>(methods: M): Promise<{ [K in keyof M]: { ms: number; value: Awaited<ReturnType<M[K]>> } }> {
  const names = Object.keys(methods) as (keyof M)[];
  const times = new Map<keyof M, number[]>(names.map((n) => [n, []]));
  const values = new Map<keyof M, unknown>();
  for (let round = 0; round < repeat; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!;
      const t = performance.now();
      values.set(name, await methods[name]!());
      times.get(name)!.push(performance.now() - t);
    }
  }
  return Object.fromEntries(names.map((n) => [n, { ms: median(times.get(n)!), value: values.get(n) }])) as { [K in keyof M]: { ms: number; value: Awaited<ReturnType<M[K]>> } };
}

const dir = flags.dir ?? await mkdtemp(join(tmpdir(), 'bench-dynamism-'));
await mkdir(dir, { recursive: true });
const cases: Case[] = [];
let pattern = 0;
const genStart = performance.now();
for (const height of heights) {
  for (const m of minutes) {
    const seconds = Math.round(m * 60);
    const width = Math.round((height * 16) / 9 / 2) * 2;
    const name = `p${pattern % 5}-${seconds}s-${height}p`;
    const file = join(dir, `${name}.mp4`);
    const exists = await stat(file).then(() => true, () => false);
    if (!exists) await generateVideo(file, { sections: sections(pattern, seconds), width, height, fps, audio: true, preset: flags.preset });
    cases.push({ name, file, seconds, height });
    pattern++;
  }
}
console.log(`generated ${cases.length} videos in ${((performance.now() - genStart) / 1000).toFixed(1)} s under ${dir} (fps ${fps}, grain ${grain}, preset ${flags.preset}, repeat ${repeat})\n`);

const verdictText = (v: FreezeVerdict) => `${v.static ? 'static ' : 'dynamic'} ${v.frozenSegments}/${v.segments}`;
const rows: string[][] = [];
const totals = { floor: 0, original: 0, full: 0, fast: 0 };
let fullAgrees = 0;
let fastAgrees = 0;
let fastSegmentsAgree = 0;
let segmentsTotal = 0;
for (const c of cases) {
  const { floor, original, full, fast } = await timedRounds({
    floor: () => decodeOnly(c.file),
    original: async () => detectFrozenSegmentsPerSegment(c.file, (await probe(c.file)).durationSec),
    full: async () => detectFrozenSegments(c.file, (await probe(c.file)).durationSec, { mode: 'full' }),
    fast: async () => detectFrozenSegments(c.file, (await probe(c.file)).durationSec, { mode: 'fast' }),
  });
  totals.floor += floor.ms; totals.original += original.ms; totals.full += full.ms; totals.fast += fast.ms;
  const sameFull = JSON.stringify(full.value.frozenIndexes) === JSON.stringify(original.value.frozenIndexes);
  if (sameFull) fullAgrees++;
  if (fast.value.static === full.value.static) fastAgrees++;
  segmentsTotal += full.value.segments;
  for (let k = 0; k < full.value.segments; k++) {
    if (full.value.frozenIndexes.includes(k) === fast.value.frozenIndexes.includes(k)) fastSegmentsAgree++;
  }
  const x = (ms: number) => `${(ms / 1000).toFixed(2)} s (${(ms / floor.ms).toFixed(2)}x)`;
  rows.push([c.name, `${(floor.ms / 1000).toFixed(2)} s`, x(original.ms), x(full.ms), x(fast.ms),
    verdictText(original.value), `${verdictText(full.value)}${sameFull ? '' : ' MISMATCH'}`, verdictText(fast.value)]);
}

const header = ['video', 'floor decode', 'original per-segment', 'full (one pass)', 'fast (key frames)', 'original verdict', 'full verdict', 'fast verdict'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log();
console.log(`total wall time: floor ${(totals.floor / 1000).toFixed(2)} s, original ${(totals.original / 1000).toFixed(2)} s, full ${(totals.full / 1000).toFixed(2)} s, fast ${(totals.fast / 1000).toFixed(2)} s`);
console.log(`full / floor: ${(totals.full / totals.floor).toFixed(3)}x (target <= 1.05)   original / full: ${(totals.original / totals.full).toFixed(2)}x`);
console.log(`fast speed-up over full: ${(totals.full / totals.fast).toFixed(1)}x (target >= 5)`);
console.log(`verdicts: full = original on ${fullAgrees}/${cases.length} videos (frozen segment sets identical); fast = full on ${fastAgrees}/${cases.length} videos (${((100 * fastAgrees) / cases.length).toFixed(0)}%), ${fastSegmentsAgree}/${segmentsTotal} segments`);
if (!flags.dir) await rm(dir, { recursive: true, force: true });
