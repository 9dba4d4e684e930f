import { makePosterAndStrip, sampleFrames, seekFrames, DEFAULT_POSTER_OPTIONS, jpegDimensions } from '@finevideo/media';
import { readFileSync } from 'node:fs';
const kids = () => { const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' '); return (Number(f[13]) + Number(f[14])) / 100; };
const file = '/tmp/v150.mp4';
for (const label of ['seek', 'pass', 'seek', 'pass']) {
  const c0 = kids(); const t0 = performance.now();
  const r = await makePosterAndStrip(file, { ...DEFAULT_POSTER_OPTIONS, durationSeconds: label === 'seek' ? 150 : undefined });
  console.log(label, 'cpu', (kids() - c0).toFixed(2), 'wall', ((performance.now() - t0) / 1000).toFixed(2), jpegDimensions(r.poster.jpeg), r.strip.frames, jpegDimensions(r.strip.jpeg));
}
const f = await seekFrames(file, [1, 74.9, 149.5, 200], { maxSide: 160 });
console.log(f.map((x) => [x.index, x.timeSeconds, x.width, x.height]));
