/**
 * Scene detection benchmark: our detectScenes vs PySceneDetect 0.6.4 (the reference FineVideo ran)
 * vs a plain ffmpeg decode of the same files, on a generated corpus (hard cuts, fast cuts, fades,
 * dissolves, variable frame rate, 23.976 to 30 fps, 240p to 1080p, footage-like content).
 *
 *   npm run bench:scenes                                   # corpus in a temp folder, ours + decode
 *   PYSCENEDETECT_SRC=/tmp/pyscenedetect-0.6.4 npm run bench:scenes -- --dir /tmp/scenes-corpus
 *
 * PYSCENEDETECT_SRC: a folder holding PySceneDetect 0.6.4's `scenedetect` package (see
 * tools/scenes-reference/README.md); without it the reference is skipped with a message.
 * Flags: --dir (keep and reuse the videos), --scale (segment lengths multiplier), --only (name filter).
 * Times: wall per file, and CPU (user + sys, children included) of each whole batch, since this
 * machine may be shared: CPU is the steadier figure.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { detectScenes } from '@finevideo/media';
import { benchCorpus, generateCorpusVideo } from '../../libs/media/test/scenes-corpus.js';

const { values: flags } = parseArgs({
  options: {
    dir: { type: 'string' },
    scale: { type: 'string', default: '1' },
    only: { type: 'string' },
    detect: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

interface FileResult { file: string; seconds: number; frames: number; cuts: number[] }

/** Child mode: detect every file given, one JSON line each (measured as one batch by the parent). */
async function detectMode(files: string[]): Promise<void> {
  for (const file of files) {
    const started = performance.now();
    const result = await detectScenes(file);
    const report: FileResult = { file, seconds: (performance.now() - started) / 1000, frames: result.frameCount, cuts: result.cuts };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  }
}

interface Batch { stdout: string; wallSeconds: number; cpuSeconds: number }

/** Runs a command under bash and reads its children's CPU time from `times`. */
function measure(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Batch> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', '"$@"; status=$?; times >&2; exit $status', 'bash', command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.once('error', reject);
    child.once('close', (code) => {
      const wallSeconds = (performance.now() - started) / 1000;
      const lines = stderr.trim().split('\n');
      const children = lines.at(-1)?.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
      if (code !== 0 || !children) {
        reject(new Error(`${command} ${args.slice(0, 3).join(' ')}: exit ${code}: ${lines.slice(-4).join(' | ')}`));
        return;
      }
      const cpuSeconds = Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4]);
      resolve({ stdout, wallSeconds, cpuSeconds });
    });
  });
}

/** Greedy one-to-one matching of cuts within +-1 frame. */
function compareCuts(ours: number[], reference: number[]) {
  const used = new Set<number>();
  let exact = 0;
  let withinOne = 0;
  for (const cut of reference) {
    let best = -1;
    for (let i = 0; i < ours.length; i++) {
      if (used.has(i) || Math.abs(ours[i]! - cut) > 1) continue;
      if (best < 0 || Math.abs(ours[i]! - cut) < Math.abs(ours[best]! - cut)) best = i;
    }
    if (best >= 0) {
      used.add(best);
      withinOne++;
      if (ours[best] === cut) exact++;
    }
  }
  return { exact, withinOne, missed: reference.length - withinOne, extra: ours.length - used.size };
}

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);

async function main(): Promise<void> {
  if (flags.detect) return detectMode((process.argv.slice(2).filter((a) => !a.startsWith('--'))));
  const dir = flags.dir ?? await mkdtemp(join(tmpdir(), 'scenes-bench-'));
  await mkdir(dir, { recursive: true });
  const corpus = benchCorpus(Number(flags.scale)).filter((v) => !flags.only || v.name.includes(flags.only));
  const files: string[] = [];
  for (const video of corpus) {
    const path = join(dir, `${video.name}.mp4`);
    if (!existsSync(path)) {
      process.stdout.write(`generating ${video.name}...\n`);
      await generateCorpusVideo(video, path, { threads: 0 });
    }
    files.push(path);
  }
  if (files.length === 0) {
    console.log(`no corpus video matches --only ${flags.only ?? ''}`);
    return;
  }
  console.log(`corpus: ${files.length} videos in ${dir}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  // Plain decode: the floor any detector that reads every frame pays.
  const decode = new Map<string, number>();
  let decodeCpu = 0;
  let decodeWall = 0;
  for (const file of files) {
    const run = await measure('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'null', '-']);
    decode.set(file, run.wallSeconds);
    decodeCpu += run.cpuSeconds;
    decodeWall += run.wallSeconds;
  }

  const parse = (text: string) => new Map(text.trim().split('\n').filter(Boolean).map((line) => {
    const r = JSON.parse(line) as FileResult;
    return [r.file, r] as const;
  }));
  const oursBatch = await measure(process.execPath, ['--import', 'tsx', 'tools/bench/scenes.ts', '--detect', ...files]);
  const ours = parse(oursBatch.stdout);

  const source = process.env.PYSCENEDETECT_SRC;
  let reference: Map<string, FileResult> | undefined;
  let referenceBatch: Batch | undefined;
  if (!source) {
    console.log('PYSCENEDETECT_SRC is not set: skipping the PySceneDetect 0.6.4 reference (see tools/scenes-reference/README.md)');
  } else {
    referenceBatch = await measure('/usr/bin/python3', ['tools/scenes-reference/run.py', ...files], { ...process.env, PYSCENEDETECT_SRC: source });
    reference = parse(referenceBatch.stdout);
  }

  console.log(`\n${pad('video', 30)} ${lpad('frames', 7)} ${lpad('decode s', 9)} ${lpad('ours s', 8)} ${lpad('pyscd s', 8)}  cuts ours / reference (exact, +-1, missed, extra)`);
  let total = { reference: 0, exact: 0, withinOne: 0, missed: 0, extra: 0, frameMismatch: 0 };
  let oursWall = 0;
  let referenceWall = 0;
  for (const file of files) {
    const name = file.split('/').pop()!.replace(/\.mp4$/, '');
    const o = ours.get(file)!;
    const r = reference?.get(file);
    oursWall += o.seconds;
    let detail = `${o.cuts.length}`;
    if (r) {
      referenceWall += r.seconds;
      const c = compareCuts(o.cuts, r.cuts);
      total = {
        reference: total.reference + r.cuts.length, exact: total.exact + c.exact, withinOne: total.withinOne + c.withinOne,
        missed: total.missed + c.missed, extra: total.extra + c.extra, frameMismatch: total.frameMismatch + (r.frames === o.frames ? 0 : 1),
      };
      detail = `${o.cuts.length} / ${r.cuts.length} (${c.exact}, ${c.withinOne}, ${c.missed}, ${c.extra})${r.frames === o.frames ? '' : ` frames differ: ${o.frames} vs ${r.frames}`}`;
    }
    console.log(`${pad(name, 30)} ${lpad(o.frames, 7)} ${lpad(decode.get(file)!.toFixed(2), 9)} ${lpad(o.seconds.toFixed(2), 8)} ${lpad(r ? r.seconds.toFixed(2) : '-', 8)}  ${detail}`);
  }
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
  console.log(`\nwall (sum per file): decode ${decodeWall.toFixed(1)} s, ours ${oursWall.toFixed(1)} s${referenceBatch ? `, PySceneDetect ${referenceWall.toFixed(1)} s` : ''}`);
  console.log(`CPU (batch, user+sys): decode ${decodeCpu.toFixed(1)} s, ours ${oursBatch.cpuSeconds.toFixed(1)} s${referenceBatch ? `, PySceneDetect ${referenceBatch.cpuSeconds.toFixed(1)} s` : ''}`);
  console.log(`ours vs plain decode: ${ratio(oursWall, decodeWall)}x wall, ${ratio(oursBatch.cpuSeconds, decodeCpu)}x CPU (goal <= 1.2x, cuts exact)`);
  if (referenceBatch) {
    console.log(`PySceneDetect 0.6.4 / ours: ${ratio(referenceWall, oursWall)}x wall, ${ratio(referenceBatch.cpuSeconds, oursBatch.cpuSeconds)}x CPU (goal >= 3x)`);
    console.log(`cuts: reference ${total.reference}, same frame ${total.exact}, within +-1 ${total.withinOne} (${(100 * total.withinOne / Math.max(1, total.reference)).toFixed(1)}%), missed ${total.missed}, extra ${total.extra}, videos with a different frame count ${total.frameMismatch}`);
  }
  if (!flags.dir) await rm(dir, { recursive: true, force: true });
}

await main();
