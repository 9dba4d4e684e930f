import type { VideoSection, VideoSpec } from './video.js';

/**
 * What the demo serves for each sample video: a video as long as its metadata says, made of several
 * shots (hard cuts between clearly different generated pictures, and one fade), and English subtitles
 * made from its sample transcript. Real videos carry both, so every stage and page has something to show.
 */

/** Demo videos are small: 160x120 at 4 frames a second (2 cores make them in about a second a minute of video). */
export const DEMO_VIDEO = { width: 160, height: 120, fps: 4 } as const;

/** Moving kinds a shot can show; neighbours always differ, so each boundary is a clear cut. */
const MOVING: readonly VideoSection['kind'][] = ['motion', 'mandelbrot', 'gradients'];
/** A still picture longer than this would count as frozen for the dynamism filter (freezedetect d=50). */
const STILL_MAX_SECONDS = 20;

/** A stable small number from an id (the demo is the same on every run). */
function idHash(id: string): number {
  return [...id].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
}

/**
 * Splits `total` whole seconds into `parts` whole-second shots that add up to exactly `total`, unequal
 * (as real shots are) but each at least 2 s.
 */
export function shotLengths(total: number, parts: number, hash: number): number[] {
  const n = Math.max(1, Math.min(parts, Math.floor(total / 2)));
  const weights = Array.from({ length: n }, (_, k) => 2 + ((hash >>> (k * 3)) % 5));
  const sum = weights.reduce((a, b) => a + b, 0);
  const lengths = weights.map((w) => Math.max(2, Math.floor((w / sum) * total)));
  // What rounding left over (or took too much) goes to the longest shot.
  const longest = lengths.indexOf(Math.max(...lengths));
  lengths[longest]! += total - lengths.reduce((a, b) => a + b, 0);
  return lengths;
}

/**
 * The demo video of a sample row: `durationSec` long (whole seconds, as the metadata's duration), so the
 * `duration` anomaly rule holds and frame sampling finds every second it asks for. A third of the ids of a
 * minute or more are mostly one still picture (the dynamism filter drops them); the others have one shot
 * per ~25 s (at least 3), of moving kinds and short stills, with a fade between the first two.
 */
export function demoVideoSpec(id: string, durationSec: number): VideoSpec {
  if (!(Number.isFinite(durationSec) && durationSec > 0)) throw new Error(`demo video ${id}: expected a positive duration in seconds, got ${durationSec}`);
  const total = Math.max(1, Math.round(durationSec));
  const h = idHash(id);
  const base = { ...DEMO_VIDEO, audio: true };
  // Mostly one still picture, long enough (50 s and more) for the dynamism filter to call it static.
  if (h % 3 === 0 && total >= 60) {
    return { ...base, sections: [{ kind: 'motion', seconds: 4 }, { kind: 'still', seconds: total - 4 }] };
  }
  const lengths = shotLengths(total, Math.max(3, Math.round(total / 25)), h);
  let previous: VideoSection['kind'] | undefined;
  const sections = lengths.map((seconds, k): VideoSection => {
    const candidates: VideoSection['kind'][] = seconds <= STILL_MAX_SECONDS && k % 3 === 2 ? ['still', 'bars'] : [...MOVING];
    const choices = candidates.filter((kind) => kind !== previous);
    const kind = choices[(h + k) % choices.length]!;
    previous = kind;
    return { kind, seconds };
  });
  // One fade: the first shot fades out and the second fades in (a dissolve through black).
  if (sections.length >= 2 && sections[0]!.seconds >= 3 && sections[1]!.seconds >= 3) {
    sections[0]!.fadeOut = 1;
    sections[1]!.fadeIn = 1;
  }
  return { ...base, sections };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
}

/** Text safe inside a VTT cue: no markup, no arrow, no blank line (each would end or change the cue). */
const cueText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\s+/g, ' ').trim();

/**
 * English WebVTT subtitles of a transcript spoken evenly over `durationSec`: cues of about eight words,
 * each shown while its words are said (a short pause after each), the last ending before the video does.
 * Plausible timings for a talking video; what YouTube serves as a video's subtitles.
 */
export function transcriptVtt(transcript: string, durationSec: number, wordsPerCue = 8): string {
  const words = transcript.split(/\s+/).filter(Boolean);
  const cues: string[] = ['WEBVTT', ''];
  if (!words.length || !(durationSec > 0)) return `${cues.join('\n')}\n`;
  const perWord = durationSec / words.length;
  for (let first = 0; first < words.length; first += wordsPerCue) {
    const count = Math.min(wordsPerCue, words.length - first);
    const start = first * perWord;
    // Speech fills 90% of the cue's share: a pause before the next line, none past the end.
    const end = Math.min(durationSec, start + count * perWord * 0.9);
    cues.push(`${vttTime(start)} --> ${vttTime(end)}`, cueText(words.slice(first, first + count).join(' ')), '');
  }
  return cues.join('\n');
}
