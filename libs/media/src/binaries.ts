import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, isAbsolute, join } from 'node:path';

export type MediaTool = 'ffmpeg' | 'ffprobe' | 'yt-dlp';

const INSTALL_HINTS: Record<MediaTool, string> = {
  ffmpeg: 'install it (apt-get install ffmpeg, brew install ffmpeg) or set FFMPEG_PATH to its binary',
  ffprobe: 'install it (apt-get install ffmpeg ships ffprobe too) or set FFPROBE_PATH to its binary',
  'yt-dlp': 'install it (pip install yt-dlp, apt-get install yt-dlp) or set YTDLP_PATH to its binary',
};

const ENV_VARS: Record<MediaTool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH', 'yt-dlp': 'YTDLP_PATH' };

/** A media tool could not be found: says where we looked and how to install it. */
export class MissingBinaryError extends Error {
  override name = 'MissingBinaryError';
  constructor(readonly tool: MediaTool, readonly looked: string[]) {
    super(`${tool}: expected an executable, got none (looked at ${looked.join(', ')}); ${INSTALL_HINTS[tool]}`);
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The ffmpeg-static binary when that optional dependency is installed with its download (often it is not). */
function ffmpegStaticPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const path: unknown = require('ffmpeg-static');
    return typeof path === 'string' && existsSync(path) && isExecutable(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const cache = new Map<MediaTool, string>();

/**
 * Finds a media tool: ffmpeg-static (ffmpeg only, when its binary was downloaded),
 * then the tool's environment variable (FFMPEG_PATH, FFPROBE_PATH, YTDLP_PATH), then PATH.
 */
export function resolveBinary(tool: MediaTool, env: NodeJS.ProcessEnv = process.env): string {
  const cached = env === process.env ? cache.get(tool) : undefined;
  if (cached) return cached;
  const looked: string[] = [];
  let found: string | undefined;
  if (tool === 'ffmpeg') {
    found = ffmpegStaticPath();
    looked.push('ffmpeg-static');
  }
  const fromEnv = env[ENV_VARS[tool]];
  if (!found && fromEnv) {
    looked.push(`${ENV_VARS[tool]}=${fromEnv}`);
    // An explicit setting that is wrong is an error, not a reason to fall back silently.
    if (!isAbsolute(fromEnv) || !isExecutable(fromEnv)) throw new MissingBinaryError(tool, looked);
    found = fromEnv;
  }
  if (!found) {
    looked.push('PATH');
    found = onPath(tool, env);
  }
  if (!found) throw new MissingBinaryError(tool, looked);
  if (env === process.env) cache.set(tool, found);
  return found;
}

export const ffmpegPath = (env?: NodeJS.ProcessEnv) => resolveBinary('ffmpeg', env);
export const ffprobePath = (env?: NodeJS.ProcessEnv) => resolveBinary('ffprobe', env);
export const ytDlpPath = (env?: NodeJS.ProcessEnv) => resolveBinary('yt-dlp', env);
