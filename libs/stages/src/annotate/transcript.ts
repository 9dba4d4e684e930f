/** WebVTT subtitles as timed lines (the downloaded .en.vtt), for vision models and the baseline. */
export interface Cue {
  startSeconds: number;
  endSeconds: number;
  text: string;
}

const TIME = /^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$/;

function seconds(value: string): number | undefined {
  const m = TIME.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]!.padEnd(3, '0')) / 1000;
}

/**
 * Cues of a VTT file: markup (<c>, <00:00:01.000>) removed, empty cues skipped, and YouTube's rolling
 * automatic captions (each line repeated in the next cue) reduced to their new lines.
 */
export function parseVtt(text: string): Cue[] {
  const cues: Cue[] = [];
  let previousLines = new Set<string>();
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0) continue;
    const [from, rest] = lines[at]!.split('-->');
    const start = seconds(from ?? '');
    const end = seconds((rest ?? '').trim().split(/\s+/)[0] ?? '');
    if (start === undefined || end === undefined) continue;
    const body = lines.slice(at + 1).map((l) => l.replace(/<[^>]*>/g, '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&nbsp;/g, ' ').trim()).filter(Boolean);
    const fresh = body.filter((l) => !previousLines.has(l));
    previousLines = new Set(body);
    if (fresh.length) cues.push({ startSeconds: start, endSeconds: end, text: fresh.join(' ') });
  }
  return cues;
}

export function hhmmss(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** "[00:01:05] words" lines, cut at maxChars (whole lines only). */
export function timecodedTranscript(cues: readonly Cue[], maxChars: number): string {
  let out = '';
  for (const cue of cues) {
    const line = `[${hhmmss(cue.startSeconds)}] ${cue.text}\n`;
    if (out.length + line.length > maxChars) break;
    out += line;
  }
  return out.trimEnd();
}
