/** YouTube video ids: 11 characters of [A-Za-z0-9_-]. Checked before an id reaches a path or a command line. */
export const YOUTUBE_ID_PATTERN = /^[A-Za-z0-9_-]{11}$/;

export function isVideoId(value: unknown): value is string {
  return typeof value === 'string' && YOUTUBE_ID_PATTERN.test(value);
}

export function assertVideoId(value: unknown): string {
  if (!isVideoId(value)) {
    throw new Error(`invalid video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(value)?.slice(0, 60)}`);
  }
  return value;
}

/** Run ids and stage names become path segments: keep them to a safe alphabet. */
export const SAFE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
