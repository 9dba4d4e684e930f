import { ffmpegPath, runProcess, describeExit, lastLines } from '@finevideo/media';

/**
 * A stretch of a generated video: moving test pattern, a zooming fractal, drifting colour gradients,
 * colour bars, or a still picture. Each kind looks clearly unlike the others (a hard cut between two is a cut).
 */
export interface VideoSection {
  kind: 'motion' | 'mandelbrot' | 'gradients' | 'bars' | 'still';
  seconds: number;
  /** Fade in from black over this many seconds at the section's start. */
  fadeIn?: number;
  /** Fade out to black over this many seconds at the section's end. */
  fadeOut?: number;
  /** Still sections: add light per-frame noise that freezedetect at n=0.05 still calls frozen. */
  noise?: boolean;
  /** Motion sections: film grain strength (0-100), for a realistic bitrate and decode cost. */
  grain?: number;
}

export interface VideoSpec {
  sections: VideoSection[];
  width?: number;
  height?: number;
  fps?: number;
  /** Add a sine audio track. */
  audio?: boolean;
  /** Key frame interval in frames (default: 2 s, about what YouTube serves). */
  gop?: number;
  /** x264 preset (default ultrafast: quickest to make; slower presets decode more like real uploads). */
  preset?: string;
  /** Put the moov atom first (default true: a truncated copy keeps its index). */
  faststart?: boolean;
}

const STILL_COLORS = ['0x3366aa', '0xaa6633', '0x33aa66', '0x777777'];

/** Small, fast defaults: CI has 2 cores. */
const DEFAULTS = { width: 160, height: 120, fps: 5 };

/** Runs ffmpeg quietly; a failure names what was being generated and ffmpeg's last lines. */
export async function ffmpeg(args: string[], what: string): Promise<void> {
  const result = await runProcess(ffmpegPath(), ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', ...args], { timeoutMs: 600_000 });
  if (result.exitCode !== 0) throw new Error(`generating ${what}: ffmpeg ${describeExit(result)}: ${lastLines(result.stderrTail)}`);
}

function sectionSource(section: VideoSection, i: number, size: string, fps: number): string {
  const d = section.seconds;
  switch (section.kind) {
    case 'motion':
      return `testsrc2=s=${size}:r=${fps}:d=${d}${section.grain ? `,noise=alls=${section.grain}:allf=t` : ''}`;
    case 'mandelbrot':
      return `mandelbrot=s=${size}:r=${fps}:maxiter=64,trim=duration=${d},format=yuv420p`;
    case 'gradients':
      return `gradients=s=${size}:r=${fps}:d=${d}:speed=0.02:seed=${i + 1},format=yuv420p`;
    case 'bars':
      return `smptebars=s=${size}:r=${fps}:d=${d},format=yuv420p`;
    case 'still':
      return `color=c=${STILL_COLORS[i % STILL_COLORS.length]}:s=${size}:r=${fps}:d=${d}${section.noise ? ',noise=alls=3:allf=t' : ''},format=yuv420p`;
  }
}

function fades(section: VideoSection): string {
  let out = '';
  if (section.fadeIn) out += `,fade=t=in:st=0:d=${section.fadeIn}`;
  if (section.fadeOut) out += `,fade=t=out:st=${Math.max(0, section.seconds - section.fadeOut)}:d=${section.fadeOut}`;
  return out;
}

/** Encodes a video made of lavfi sections (H.264, yuv420p, ultrafast) into an mp4. */
export async function generateVideo(path: string, spec: VideoSpec): Promise<void> {
  const { width, height, fps } = { ...DEFAULTS, ...spec };
  const size = `${width}x${height}`;
  const sources = spec.sections.map((section, i) => `${sectionSource(section, i, size, fps)}${fades(section)}[v${i}]`);
  const total = spec.sections.reduce((sum, s) => sum + s.seconds, 0);
  const labels = spec.sections.map((_, i) => `[v${i}]`).join('');
  const graph = [...sources, `${labels}concat=n=${spec.sections.length}:v=1:a=0,format=yuv420p[v]`];
  if (spec.audio) graph.push(`sine=f=440:d=${total}[a]`);
  await ffmpeg([
    '-filter_complex', graph.join(';'), '-map', '[v]', ...(spec.audio ? ['-map', '[a]', '-c:a', 'aac', '-b:a', '32k'] : []),
    '-c:v', 'libx264', '-preset', spec.preset ?? 'ultrafast', '-g', String(spec.gop ?? Math.max(1, Math.round(2 * fps))),
    ...(spec.faststart === false ? [] : ['-movflags', '+faststart']), '-t', String(total), path,
  ], `video ${path}`);
}
