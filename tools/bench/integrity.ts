/**
 * The cost of checking a video whole before a stage uses it (checkVideoIntegrity: size, ffprobe, a decode
 * of the video stream's last seconds) against a plain ffprobe and a full decode, on generated videos.
 *
 *   node --import tsx tools/bench/integrity.ts                         # 1 and 4 minutes at 360p
 *   node --import tsx tools/bench/integrity.ts --minutes 1,5,10 --height 720 --repeat 3
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkVideoIntegrity, decodeOnly, probe } from '@finevideo/media';
import { generateVideo } from '@finevideo/testing';

const { values: flags } = parseArgs({
  options: { minutes: { type: 'string', default: '1,4' }, height: { type: 'string', default: '360' }, repeat: { type: 'string', default: '3' } },
});
const minutes = flags.minutes.split(',').map(Number);
const height = Number(flags.height);
const repeat = Math.max(1, Number(flags.repeat));

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const dir = await mkdtemp(join(tmpdir(), 'bench-integrity-'));
try {
  console.log(`| video | size | ffprobe | checkVideoIntegrity | full decode |\n|---|---:|---:|---:|---:|`);
  for (const m of minutes) {
    const file = join(dir, `${m}min.mp4`);
    await generateVideo(file, { sections: [{ kind: 'motion', seconds: m * 60 }], width: Math.round((height * 16) / 9 / 2) * 2, height, fps: 25, audio: true });
    const size = (await stat(file)).size;
    const probeMs = await median(() => probe(file));
    const checkMs = await median(() => checkVideoIntegrity(file, { expectedBytes: size }));
    const decodeMs = await median(() => decodeOnly(file, { timeoutMs: 600_000 }));
    console.log(`| ${m} min ${height}p | ${(size / 1e6).toFixed(1)} MB | ${probeMs.toFixed(0)} ms | ${checkMs.toFixed(0)} ms | ${decodeMs.toFixed(0)} ms |`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
