import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { ffmpeg, generateVideo, type VideoSpec } from '@finevideo/demo';

// The generator and the video server are the demo's (libs/demo); tests import them from here too.
export { generateVideo, type VideoSection, type VideoSpec } from '@finevideo/demo';

/** An m4a-in-mp4 file with only an audio stream. */
export async function generateAudioOnly(path: string, seconds: number): Promise<void> {
  await ffmpeg(['-f', 'lavfi', '-i', `sine=f=330:d=${seconds}`, '-c:a', 'aac', '-b:a', '32k', '-f', 'mp4', path], `audio ${path}`);
}

/** Copies the first fraction of a file: with faststart the index survives but the media data ends early. */
export async function truncateCopy(source: string, target: string, fraction: number): Promise<void> {
  const { size } = await stat(source);
  const handle = await open(source, 'r');
  try {
    const buffer = Buffer.alloc(Math.floor(size * fraction));
    await handle.read(buffer, 0, buffer.length, 0);
    await writeFile(target, buffer);
  } finally {
    await handle.close();
  }
}

/** A video whose moov atom (the index, written last without faststart) is missing. */
export async function generateWithoutMoov(path: string, spec: VideoSpec): Promise<void> {
  const full = `${path}.full.mp4`;
  await generateVideo(full, { ...spec, faststart: false });
  const data = await readFile(full);
  const moov = data.indexOf(Buffer.from('moov'));
  if (moov < 4) throw new Error(`generating ${path}: expected a moov atom in the encoded file, got none`);
  await writeFile(path, data.subarray(0, moov - 4));
  await rm(full, { force: true });
}

/** A WebVTT subtitle file with one cue. */
export const SAMPLE_VTT = 'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello from the test server.\n';
