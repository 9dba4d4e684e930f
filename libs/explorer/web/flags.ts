import { useEffect, useState } from 'preact/hooks';

/**
 * The "flag for review" list: kept in this browser (localStorage), since the server only reads the run.
 * Downloaded, it is a file export's `excludeIds` param accepts: one id a line, # lines are comments.
 */
const KEY = 'finevideo-explore:flagged';
const ID = /^[A-Za-z0-9_-]{11}$/;
const CHANGED = 'finevideo-flags-changed';

export function readFlags(): string[] {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(stored) ? stored.filter((id): id is string => typeof id === 'string' && ID.test(id)) : [];
  } catch {
    return [];
  }
}

function writeFlags(ids: string[]): void {
  localStorage.setItem(KEY, JSON.stringify(ids));
  dispatchEvent(new Event(CHANGED));
}

export function toggleFlag(id: string): void {
  const ids = readFlags();
  writeFlags(ids.includes(id) ? ids.filter((f) => f !== id) : [...ids, id]);
}

export const clearFlags = (): void => writeFlags([]);

/** The downloadable file: a comment saying what it is, then the ids. */
export const flagsFile = (ids: readonly string[], from: string): string =>
  `# ${ids.length} video(s) flagged for review in finevideo explore (${from}); one id a line, usable as export's excludeIds file\n${ids.map((id) => `${id}\n`).join('')}`;

/** The flagged ids, following changes made on this page and in other tabs. */
export function useFlags(): string[] {
  const [ids, setIds] = useState(readFlags);
  useEffect(() => {
    const update = () => setIds(readFlags());
    addEventListener(CHANGED, update);
    addEventListener('storage', update);
    return () => {
      removeEventListener(CHANGED, update);
      removeEventListener('storage', update);
    };
  }, []);
  return ids;
}
