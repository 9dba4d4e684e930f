/**
 * Generated videos for scene detection (tests and tools/bench/scenes.ts): hard cuts, fast cuts,
 * fades, dissolves, variable frame rate, common frame rates and sizes, and footage-like content
 * (a zooming fractal, a camera pan, lighting changes and a flash, a scrolling screen, cellular
 * animation). Built with ffmpeg's own sources in one filter graph; deterministic for a given ffmpeg
 * (x264 runs single-threaded).
 */
import { ffmpegPath, runProcess, describeExit, lastLines } from '@finevideo/media';

export type SegmentKind =
  | 'testsrc' | 'bars' | 'mandelbrot' | 'life' | 'gradients' | 'sierpinski' | 'cellauto'
  | 'scroll' | 'pan' | 'lighting' | 'flash' | 'spectrum';

export interface Segment {
  kind: SegmentKind;
  frames: number;
  seed?: number;
  /** A different frame rate for this segment (variable-frame-rate videos). */
  fps?: string;
}

export interface CorpusVideo {
  name: string;
  width: number;
  height: number;
  /** ffmpeg rate, e.g. "30000/1001". */
  fps: string;
  segments: Segment[];
  /** How segments join: a cut, a fade through black (transitionFrames out and in), or a cross dissolve. */
  transition?: 'cut' | 'fade' | 'dissolve';
  transitionFrames?: number;
  /** Keep each segment's own rate (variable frame rate in the mp4). */
  vfr?: boolean;
  /** x264 preset; tests use ultrafast. */
  preset?: string;
  /** Encoded pixel format (yuvj420p: full range) and colour tags (bt709: what ffmpeg's scale would follow). */
  pixelFormat?: 'yuv420p' | 'yuvj420p';
  colourTags?: 'bt709';
}

function source(segment: Segment, width: number, height: number, rate: string): string {
  const size = `${width}x${height}`;
  const seed = segment.seed ?? 1;
  const small = (n: number) => `${Math.max(16, Math.round(width / n))}x${Math.max(16, Math.round(height / n))}`;
  switch (segment.kind) {
    case 'testsrc': return `testsrc2=s=${size}:r=${rate}`;
    case 'bars': return `smptehdbars=s=${size}:r=${rate},noise=alls=10:allf=t`;
    case 'mandelbrot': return `mandelbrot=s=${small(2)}:r=${rate}:start_scale=2:end_scale=0.05,scale=${width}:${height}`;
    case 'life': return `life=s=${small(4)}:r=${rate}:mold=10:ratio=0.4:seed=${seed}:life_color=#ffcc00:death_color=#301060:mold_color=#207040,scale=${width}:${height}:flags=neighbor`;
    case 'gradients': return `gradients=s=${size}:r=${rate}:speed=0.03:seed=${seed}`;
    case 'sierpinski': return `sierpinski=s=${size}:r=${rate}:seed=${seed}:jump=2`;
    case 'cellauto': return `cellauto=s=${small(4)}:r=${rate}:rule=110:seed=${seed}:scroll=1,scale=${width}:${height}:flags=neighbor`;
    // A screen recording: a page of patterns scrolling down at a steady pace.
    case 'scroll': return `testsrc=s=${width}x${height * 3}:r=${rate},crop=${width}:${height}:0:'mod(n*6\\,${height * 2})'`;
    // A camera pan across a wide scene.
    case 'pan': return `colorspectrum=s=${width * 2}x${height}:r=${rate}:type=all,noise=alls=6:allf=t,crop=${width}:${height}:'mod(n*5\\,${width})':0`;
    // Slow lighting change (a cloud, a dimmer) over moving content.
    case 'lighting': return `testsrc2=s=${size}:r=${rate},eq=brightness='0.3*sin(2*PI*t/4)':eval=frame`;
    // A camera flash: three bright frames in the middle of a shot.
    case 'flash': return `testsrc2=s=${size}:r=${rate},eq=brightness='if(between(n\\,${Math.floor(segment.frames / 2)}\\,${Math.floor(segment.frames / 2) + 2})\\,0.6\\,0)':eval=frame`;
    case 'spectrum': return `colorspectrum=s=${size}:r=${rate}:type=black,hue=H='t*40'`;
  }
}

/** The filter graph that renders a corpus video to [out]. */
export function corpusGraph(video: CorpusVideo): string {
  const { width, height, segments } = video;
  const transition = video.transition ?? 'cut';
  const t = video.transitionFrames ?? 12;
  const parts: string[] = [];
  segments.forEach((segment, i) => {
    const rate = video.vfr ? segment.fps ?? video.fps : video.fps;
    let chain = `${source(segment, width, height, rate)},format=yuv420p,setsar=1,trim=end_frame=${segment.frames},setpts=PTS-STARTPTS`;
    if (transition === 'fade') {
      if (i > 0) chain += `,fade=t=in:s=0:n=${t}`;
      if (i < segments.length - 1) chain += `,fade=t=out:s=${segment.frames - t}:n=${t}`;
    }
    if (!video.vfr) chain += `,fps=${video.fps}`;
    parts.push(`${chain}[s${i}]`);
  });
  if (transition === 'dissolve') {
    const fps = rateValue(video.fps);
    let label = 's0';
    let length = segments[0]!.frames;
    for (let i = 1; i < segments.length; i++) {
      const offset = (length - t) / fps;
      const next = i === segments.length - 1 ? 'out' : `x${i}`;
      parts.push(`[${label}][s${i}]xfade=transition=fade:duration=${(t / fps).toFixed(6)}:offset=${offset.toFixed(6)}[${next}]`);
      label = next;
      length += segments[i]!.frames - t;
    }
    if (segments.length === 1) parts.push('[s0]null[out]');
  } else {
    parts.push(`${segments.map((_, i) => `[s${i}]`).join('')}concat=n=${segments.length}:v=1:a=0[out]`);
  }
  return parts.join(';');
}

function rateValue(rate: string): number {
  const [n, d] = rate.split('/').map(Number);
  return d ? n! / d : n!;
}

/** Renders `video` to `path` (H.264 in mp4). */
export async function generateCorpusVideo(video: CorpusVideo, path: string, options: { threads?: number } = {}): Promise<void> {
  const args = [
    '-nostdin', '-v', 'error', '-y', '-filter_complex', corpusGraph(video), '-map', '[out]',
    '-c:v', 'libx264', '-preset', video.preset ?? 'veryfast', '-crf', '20', '-pix_fmt', video.pixelFormat ?? 'yuv420p',
    ...(video.colourTags === 'bt709' ? ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709'] : []),
    '-threads', String(options.threads ?? 1),
    ...(video.vfr ? ['-fps_mode', 'vfr'] : ['-r', video.fps]),
    '-movflags', '+faststart', path,
  ];
  const result = await runProcess(ffmpegPath(), args, { timeoutMs: 600_000 });
  if (result.exitCode !== 0) throw new Error(`generating ${video.name}: ffmpeg ${describeExit(result)}: ${lastLines(result.stderrTail)}`);
}

const S = (kind: SegmentKind, frames: number, extra: Partial<Segment> = {}): Segment => ({ kind, frames, ...extra });

/** The benchmark's corpus: every kind of transition, rate and size the issue names, 360p to 1080p. */
export function benchCorpus(scale = 1): CorpusVideo[] {
  const n = (frames: number) => Math.max(4, Math.round(frames * scale));
  return [
    { name: 'hard-cuts-1080p-30', width: 1920, height: 1080, fps: '30', segments: [S('testsrc', n(90)), S('gradients', n(75)), S('bars', n(60)), S('life', n(90)), S('sierpinski', n(60))] },
    { name: 'hard-cuts-720p-29.97', width: 1280, height: 720, fps: '30000/1001', segments: [S('mandelbrot', n(80)), S('testsrc', n(70)), S('cellauto', n(90)), S('spectrum', n(60)), S('bars', n(75))] },
    { name: 'hard-cuts-480p-25', width: 854, height: 480, fps: '25', segments: [S('life', n(60), { seed: 3 }), S('gradients', n(50), { seed: 4 }), S('testsrc', n(70)), S('pan', n(60)), S('bars', n(50))] },
    { name: 'hard-cuts-360p-24', width: 640, height: 360, fps: '24', segments: [S('sierpinski', n(48), { seed: 5 }), S('testsrc', n(60)), S('life', n(40)), S('gradients', n(72), { seed: 9 }), S('bars', n(50))] },
    { name: 'fast-cuts-720p-23.976', width: 1280, height: 720, fps: '24000/1001', segments: [S('testsrc', 30), S('bars', 5), S('life', 8), S('gradients', 12), S('sierpinski', 20), S('bars', 3), S('testsrc', 16), S('life', 40), S('gradients', 6), S('cellauto', 30)] },
    { name: 'fast-cuts-360p-30', width: 640, height: 360, fps: '30', segments: [S('bars', 20), S('testsrc', 4), S('gradients', 14), S('life', 15), S('sierpinski', 16), S('bars', 30), S('spectrum', 10), S('testsrc', 25)] },
    { name: 'fades-720p-25', width: 1280, height: 720, fps: '25', transition: 'fade', transitionFrames: 15, segments: [S('testsrc', n(75)), S('gradients', n(75)), S('life', n(75)), S('bars', n(60))] },
    { name: 'fades-480p-29.97', width: 854, height: 480, fps: '30000/1001', transition: 'fade', transitionFrames: 8, segments: [S('bars', n(60)), S('mandelbrot', n(70)), S('testsrc', n(60))] },
    { name: 'dissolves-1080p-24', width: 1920, height: 1080, fps: '24', transition: 'dissolve', transitionFrames: 24, segments: [S('testsrc', n(72)), S('bars', n(72)), S('gradients', n(72)), S('life', n(72))] },
    { name: 'dissolves-360p-30', width: 640, height: 360, fps: '30', transition: 'dissolve', transitionFrames: 10, segments: [S('life', n(60)), S('testsrc', n(60)), S('sierpinski', n(60)), S('bars', n(60))] },
    { name: 'vfr-720p', width: 1280, height: 720, fps: '30', vfr: true, segments: [S('testsrc', n(60), { fps: '30' }), S('bars', n(30), { fps: '15' }), S('life', n(48), { fps: '24' }), S('gradients', n(50), { fps: '25' }), S('testsrc', n(60), { fps: '60' })] },
    { name: 'vfr-360p', width: 640, height: 360, fps: '25', vfr: true, segments: [S('gradients', n(40), { fps: '10' }), S('testsrc', n(60), { fps: '30000/1001' }), S('life', n(50), { fps: '12' })] },
    { name: 'footage-camera-1080p-29.97', width: 1920, height: 1080, fps: '30000/1001', segments: [S('pan', n(120)), S('lighting', n(150)), S('mandelbrot', n(120)), S('flash', n(60))] },
    { name: 'footage-camera-720p-25', width: 1280, height: 720, fps: '25', segments: [S('lighting', n(125)), S('pan', n(100)), S('flash', n(50)), S('mandelbrot', n(100))] },
    { name: 'footage-screen-720p-30', width: 1280, height: 720, fps: '30', segments: [S('scroll', n(150)), S('spectrum', n(60)), S('scroll', n(90))] },
    { name: 'footage-animation-480p-24', width: 854, height: 480, fps: '24', segments: [S('life', n(96), { seed: 11 }), S('cellauto', n(96), { seed: 12 }), S('sierpinski', n(72), { seed: 13 }), S('life', n(60), { seed: 14 })] },
    { name: 'small-240p-25', width: 426, height: 240, fps: '25', segments: [S('testsrc', n(50)), S('life', n(50)), S('bars', n(50))] },
    { name: 'portrait-1080x1920-30', width: 1080, height: 1920, fps: '30', segments: [S('testsrc', n(60)), S('gradients', n(60)), S('scroll', n(60))] },
  ];
}
