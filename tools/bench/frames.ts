/**
 * Frame sampling benchmark: sampleFrames (probe + one decode picking, scaling and encoding the
 * frames) against the decode floor on the same generated videos:
 *   floor     `ffmpeg -i FILE -f null -` (every stream decoded, nothing else), the reference;
 *   video     `ffmpeg -i FILE -map 0:v:0 -an -f null -` (the video stream alone), a stricter floor.
 * Costs are per video minute, in wall time and in CPU time of the child processes (from
 * /proc/self/stat cutime+cstime, so a busy shared machine distorts them less). Goal: sampling
 * <= 1.2x the floor.
 *
 *   npm run bench:frames                                    # 720p and 1080p, 2 min each, 30 fps
 *   npm run bench:frames -- --heights 720,1080 --minutes 2,3 --fps 30 --sample-fps 1 --max-frames 32 --max-side 768
 *
 * Flags: --heights, --minutes (one video per height and duration), --fps (source), --grain (motion noise,
 * for a realistic bitrate), --preset (x264), --repeat (rounds, methods in rotated order, median kept),
 * --sample-fps, --max-frames, --max-side, --quality (sampling options), --dir (keep the videos there).
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeOnly, ffmpegPath, lastLines, runProcess, sampleFrames, type SampledFrame } from '@finevideo/media';
import { generateVideo } from '@finevideo/testing';

const { values: flags } = parseArgs({
  options: {
    heights: { type: 'string', default: '720,1080' },
    minutes: { type: 'string', default: '2' },
    fps: { type: 'string', default: '30' },
    grain: { type: 'string', default: '4' },
    preset: { type: 'string', default: 'veryfast' },
    repeat: { type: 'string', default: '3' },
    'sample-fps': { type: 'string', default: '1' },
    'max-frames': { type: 'string', default: '32' },
    'max-side': { type: 'string', default: '768' },
    quality: { type: 'string', default: '5' },
    dir: { type: 'string' },
  },
});

const heights = flags.heights.split(',').map(Number);
const minutes = flags.minutes.split(',').map(Number);
const sourceFps = Number(flags.fps);
const repeat = Math.max(1, Number(flags.repeat));
const sampling = { fps: Number(flags['sample-fps']), maxFrames: Number(flags['max-frames']), maxSide: Number(flags['max-side']), jpegQuality: Number(flags.quality) };

/** CPU seconds used so far by this process's finished children (Linux; undefined elsewhere). */
function childCpuSeconds(): number | undefined {
  try {
    // Fields after the command name "(...)": cutime and cstime are the 14th and 15th.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

interface Cost { wallS: number; cpuS: number | undefined }

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs each method `repeat` times, rotating their order every round; keeps the median wall and CPU time. */
async function measure(methods: Record<string, () => Promise<unknown>>): Promise<Record<string, Cost>> {
  const names = Object.keys(methods);
  const walls = new Map(names.map((n) => [n, [] as number[]]));
  const cpus = new Map(names.map((n) => [n, [] as number[]]));
  for (let round = 0; round < repeat; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!;
      const cpu0 = childCpuSeconds();
      const t0 = performance.now();
      await methods[name]!();
      walls.get(name)!.push((performance.now() - t0) / 1000);
      const cpu1 = childCpuSeconds();
      if (cpu0 !== undefined && cpu1 !== undefined) cpus.get(name)!.push(cpu1 - cpu0);
    }
  }
  return Object.fromEntries(names.map((n) => [n, { wallS: median(walls.get(n)!), cpuS: cpus.get(n)!.length ? median(cpus.get(n)!) : undefined }]));
}

async function decodeVideoOnly(file: string): Promise<void> {
  const result = await runProcess(ffmpegPath(), ['-hide_banner', '-nostdin', '-nostats', '-i', file, '-map', '0:v:0', '-an', '-f', 'null', '-']);
  if (result.exitCode !== 0) throw new Error(`decoding ${file}: expected exit code 0, got ${result.exitCode}: ${lastLines(result.stderrTail)}`);
}

const dir = flags.dir ?? await mkdtemp(join(tmpdir(), 'bench-frames-'));
await mkdir(dir, { recursive: true });
const cases: { name: string; file: string; seconds: number }[] = [];
const genStart = performance.now();
for (const height of heights) {
  for (const m of minutes) {
    const seconds = Math.round(m * 60);
    const width = Math.round((height * 16) / 9 / 2) * 2;
    const name = `${height}p-${seconds}s-${sourceFps}fps`;
    const file = join(dir, `${name}.mp4`);
    if (!(await stat(file).then(() => true, () => false))) {
      await generateVideo(file, {
        sections: [{ kind: 'motion', seconds, grain: Number(flags.grain) }],
        width, height, fps: sourceFps, audio: true, preset: flags.preset,
      });
    }
    cases.push({ name, file, seconds });
  }
}
console.log(`generated ${cases.length} videos in ${((performance.now() - genStart) / 1000).toFixed(1)} s under ${dir}`);
console.log(`sampling: fps ${sampling.fps}, maxFrames ${sampling.maxFrames}, maxSide ${sampling.maxSide}, q:v ${sampling.jpegQuality}; source ${sourceFps} fps, preset ${flags.preset}, repeat ${repeat}\n`);

const perMinute = (seconds: number, cost: number | undefined) => (cost === undefined ? undefined : cost / (seconds / 60));
const fmt = (x: number | undefined, digits = 2) => (x === undefined ? 'n/a' : x.toFixed(digits));
const header = ['video', 'frames', 'floor s/min wall|cpu', 'video-only s/min wall|cpu', 'sampling s/min wall|cpu', 'sampling/floor wall|cpu', 'sampling/video-only wall|cpu'];
const rows: string[][] = [];
const totals = { floorWall: 0, floorCpu: 0, videoWall: 0, videoCpu: 0, sampleWall: 0, sampleCpu: 0 };
for (const c of cases) {
  let frames: SampledFrame[] = [];
  const costs = await measure({
    floor: () => decodeOnly(c.file),
    video: () => decodeVideoOnly(c.file),
    sample: async () => { frames = await sampleFrames(c.file, sampling); },
  });
  const { floor, video, sample } = costs as Record<'floor' | 'video' | 'sample', Cost>;
  totals.floorWall += floor.wallS; totals.videoWall += video.wallS; totals.sampleWall += sample.wallS;
  totals.floorCpu += floor.cpuS ?? Number.NaN; totals.videoCpu += video.cpuS ?? Number.NaN; totals.sampleCpu += sample.cpuS ?? Number.NaN;
  const pair = (a: Cost) => `${fmt(perMinute(c.seconds, a.wallS))} | ${fmt(perMinute(c.seconds, a.cpuS))}`;
  const ratio = (a: Cost, b: Cost) => `${fmt(a.wallS / b.wallS, 3)} | ${a.cpuS !== undefined && b.cpuS ? fmt(a.cpuS / b.cpuS, 3) : 'n/a'}`;
  const bytes = frames.reduce((sum, f) => sum + f.jpeg.length, 0);
  rows.push([c.name, `${frames.length} ${frames[0]?.width}x${frames[0]?.height} ${Math.round(bytes / 1024)} KiB`, pair(floor), pair(video), pair(sample), ratio(sample, floor), ratio(sample, video)]);
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log();
console.log(`sampling / floor (all videos): wall ${fmt(totals.sampleWall / totals.floorWall, 3)}x, cpu ${fmt(totals.sampleCpu / totals.floorCpu, 3)}x (goal <= 1.2)`);
console.log(`sampling / video-only decode: wall ${fmt(totals.sampleWall / totals.videoWall, 3)}x, cpu ${fmt(totals.sampleCpu / totals.videoCpu, 3)}x`);
if (!flags.dir) await rm(dir, { recursive: true, force: true });
