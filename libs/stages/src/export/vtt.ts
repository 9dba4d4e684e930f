import type { TimecodedSegment } from '@finevideo/dataset';

const CUE_TIME = /^((?:\d+:)?\d{1,2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}\.\d{3})/;

/** "m:ss.mmm" or "h:mm:ss.mmm" as FineVideo's HH:MM:SS.mmm. */
function timecode(text: string): string {
  const parts = text.split(':');
  const [s, ms] = parts.pop()!.split('.');
  const m = parts.pop() ?? '0';
  const h = parts.pop() ?? '0';
  return `${h.padStart(2, '0')}:${m.padStart(2, '0')}:${s!.padStart(2, '0')}.${ms}`;
}

/**
 * The cues of a WebVTT file as FineVideo's timecoded_text_to_speech segments ({start, end, text} with
 * HH:MM:SS.mmm times). Inline tags (<c>, <00:00:01.000>) are removed; YouTube's rolling automatic
 * captions repeat the previous cue's last line, so a line equal to the previous segment's last line is
 * dropped; cues left empty are skipped.
 */
export function parseVtt(vtt: string): TimecodedSegment[] {
  const segments: TimecodedSegment[] = [];
  const lines = vtt.replace(/\r\n?/g, '\n').split('\n');
  let previousLast = '';
  for (let i = 0; i < lines.length; i++) {
    const m = CUE_TIME.exec(lines[i]!.trim());
    if (!m) continue;
    const text: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== ''; i++) {
      const line = lines[i]!.replace(/<[^>]*>/g, '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&nbsp;/g, ' ').trim();
      if (line && line !== previousLast) text.push(line);
    }
    if (!text.length) continue;
    previousLast = text[text.length - 1]!;
    segments.push({ start: timecode(m[1]!), end: timecode(m[2]!), text: text.join(' ') });
  }
  return segments;
}
