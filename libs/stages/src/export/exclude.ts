import { ConfigError, SystemicError, errorMessage, isVideoId, type ObjectStore } from '@finevideo/core';

/** The reason of a row left out because its creator asked (export's excludeIds): a drop, counted in the funnel. */
export const OPTED_OUT = 'opted-out';

/**
 * The ids of an opt-out file: one YouTube id per line; blank lines and `#` comments are ignored. A line that
 * is not an id is refused (a typo would otherwise keep a video its creator asked to remove).
 */
export function parseExcludedIds(text: string, where: string): Set<string> {
  const ids = new Set<string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const shown = JSON.stringify(line.slice(0, 40));
    if (!isVideoId(line)) throw new ConfigError(`${where} line ${i + 1}: expected a YouTube video id (11 characters of A-Z a-z 0-9 _ -), got ${shown}`);
    ids.add(line);
  }
  return ids;
}

/** The ids of export's excludeIds file (a key in the run's storage); an empty set without one. A missing file is a configuration error. */
export async function readExcludedIds(store: ObjectStore, key: string | null): Promise<Set<string>> {
  if (key === null) return new Set();
  let text: string | undefined;
  try {
    text = await store.getText(key);
  } catch (e) {
    throw new SystemicError(`storage: reading export.params.excludeIds ${key}: ${errorMessage(e)}`, 'storage unreachable', true, { cause: e });
  }
  if (text === undefined) throw new ConfigError(`export.params.excludeIds: expected a file of video ids at ${JSON.stringify(key)} in the run's storage, got none`);
  return parseExcludedIds(text, `export.params.excludeIds ${key}`);
}
