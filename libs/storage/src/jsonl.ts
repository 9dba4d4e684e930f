import { createInterface } from 'node:readline';
import type { ByteRange, ObjectStore, Row } from '@finevideo/core';

/**
 * Streams the rows of a JSONL object, one parsed line at a time (a chunk's work list may hold
 * millions of items: it is never read whole), or of bytes [range.start, range.end) of it (whole
 * lines). A consumer that stops early closes the stream.
 */
export async function* readJsonl(store: ObjectStore, key: string, range?: ByteRange): AsyncIterable<Row> {
  const stream = await store.getStream(key, range);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      try {
        yield JSON.parse(line) as Row;
      } catch (e) {
        throw new Error(`${key} line ${n}: expected a JSON object, got unparseable text (${(e as Error).message})`);
      }
    }
  } finally {
    lines.close();
    // Releases the file handle or the HTTP connection when the reader stops before the end.
    stream.destroy();
  }
}

export const toJsonlLine = (row: unknown): string => `${JSON.stringify(row)}\n`;
