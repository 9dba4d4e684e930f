import type { FFmpeg } from '@ffmpeg/ffmpeg';

let loading: Promise<FFmpeg> | undefined;

/**
 * ffmpeg.wasm, loaded the first time a clip is asked for: the class from a chunk of the bundle, its
 * worker and the 31 MB core from this server (/assets/), never from a CDN.
 */
function ffmpeg(onLog: (line: string) => void): Promise<FFmpeg> {
  loading ??= (async () => {
    const { FFmpeg } = await import('@ffmpeg/ffmpeg');
    const instance = new FFmpeg();
    instance.on('log', ({ message }) => onLog(message));
    await instance.load({
      classWorkerURL: new URL('/assets/ffmpeg-worker.js', location.href).href,
      coreURL: new URL('/assets/ffmpeg/ffmpeg-core.js', location.href).href,
      wasmURL: new URL('/assets/ffmpeg/ffmpeg-core.wasm', location.href).href,
    });
    return instance;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

export interface ClipProgress {
  (stage: 'loading' | 'fetching' | 'cutting' | 'done', detail?: string): void;
}

/**
 * Cuts [start, end) of the video into a new MP4 in the browser (the server stays read-only and does no
 * transcoding): re-encoded so the clip starts exactly at the scene's first frame, not at a key frame.
 */
export async function cutClip(videoUrl: string, start: number, end: number, progress: ClipProgress): Promise<Blob> {
  progress('loading');
  const logs: string[] = [];
  const f = await ffmpeg((line) => {
    logs.push(line);
    if (logs.length > 40) logs.shift();
  });
  progress('fetching');
  const response = await fetch(videoUrl);
  if (!response.ok) throw new Error(`${videoUrl}: HTTP ${response.status}`);
  await f.writeFile('input.mp4', new Uint8Array(await response.arrayBuffer()));
  progress('cutting');
  const onProgress = ({ progress: p }: { progress: number }) => progress('cutting', `${Math.round(Math.min(1, Math.max(0, p)) * 100)}%`);
  f.on('progress', onProgress);
  try {
    const code = await f.exec([
      '-ss', start.toFixed(3), '-i', 'input.mp4', '-t', Math.max(0.04, end - start).toFixed(3),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '23', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', 'clip.mp4',
    ]);
    if (code !== 0) throw new Error(`ffmpeg.wasm: exit ${code}: ${logs.slice(-5).join(' | ')}`);
    const data = await f.readFile('clip.mp4');
    progress('done');
    return new Blob([data as Uint8Array<ArrayBuffer>], { type: 'video/mp4' });
  } finally {
    f.off('progress', onProgress);
    await f.deleteFile('input.mp4').catch(() => undefined);
    await f.deleteFile('clip.mp4').catch(() => undefined);
  }
}
