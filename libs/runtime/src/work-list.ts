import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { runLayout, type ChunkRange, type ObjectStore, type Row } from '@finevideo/core';
import { readJsonl } from '@finevideo/storage';
import { readJsonObject, type StagePlan } from './run-state.js';

export interface SpooledItems {
  itemCount: number;
  bytes: number;
}

/**
 * Writes items as JSON lines to a local file. Lines are copied into a 1 MB buffer written when full,
 * not joined into a string: a string built of 70,000 lines lives long enough to be promoted, and at
 * 2,000,000 items that garbage held the heap near 110 MB (about 50 MB this way).
 */
export async function spoolItems(items: AsyncIterable<unknown>, path: string): Promise<SpooledItems> {
  const sink = createWriteStream(path);
  const sinkFailed = new Promise<never>((_, reject) => sink.once('error', reject));
  sinkFailed.catch(() => undefined);
  let itemCount = 0;
  let bytes = 0;
  let block = Buffer.allocUnsafe(1 << 20);
  let used = 0;
  const flush = async () => {
    const full = block.subarray(0, used);
    bytes += used;
    block = Buffer.allocUnsafe(block.length);
    used = 0;
    if (!sink.write(full)) await Promise.race([once(sink, 'drain'), sinkFailed]);
  };
  for await (const item of items) {
    const line = `${JSON.stringify(item)}\n`;
    if (used + line.length * 3 > block.length) {
      await flush();
      if (line.length * 3 > block.length) block = Buffer.allocUnsafe(line.length * 3);
    }
    used += block.write(line, used);
    itemCount++;
  }
  bytes += used;
  sink.end(block.subarray(0, used));
  await Promise.race([once(sink, 'close'), sinkFailed]);
  return { itemCount, bytes };
}

/**
 * Where each chunk's items start in a spooled work list, then its size: chunk i is bytes
 * [offsets[i], offsets[i + 1]). Found by counting newlines in one pass over the file, so no
 * per-item offset is ever held (ranges are in item order, as planChunks makes them).
 */
export async function chunkByteOffsets(path: string, spooled: SpooledItems, ranges: readonly ChunkRange[]): Promise<number[]> {
  const offsets: number[] = [];
  let next = 0;
  const startsHere = (line: number, offset: number) => {
    while (next < ranges.length && ranges[next]!.start === line) {
      offsets.push(offset);
      next++;
    }
  };
  let line = 0;
  let position = 0;
  startsHere(0, 0);
  for await (const block of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let at = block.indexOf(10); at >= 0; at = block.indexOf(10, at + 1)) startsHere(++line, position + at + 1);
    position += block.length;
  }
  if (line !== spooled.itemCount || position !== spooled.bytes) {
    throw new Error(`work list ${path}: expected ${spooled.itemCount} lines in ${spooled.bytes} bytes, got ${line} in ${position}`);
  }
  // Empty chunks at the end (fewer items than chunks) start at the end.
  while (offsets.length < ranges.length) offsets.push(position);
  offsets.push(position);
  return offsets;
}

/**
 * The items of one chunk of a map stage: its byte range of the stage's one work list
 * (chunks/work-list.jsonl), or, for a streamed stage's chunks and for runs planned before the work
 * list existed, its own chunks/<i>.jsonl.
 */
export async function* chunkItems(store: ObjectStore, runId: string, stageName: string, index: number, plan?: StagePlan): AsyncIterable<Row> {
  const layout = runLayout(runId).stage(stageName);
  const known = plan ?? (await readJsonObject<StagePlan>(store, layout.plan));
  const workList = known?.workList;
  if (!workList) {
    yield* readJsonl(store, layout.chunk(index));
    return;
  }
  if (!Number.isInteger(index) || index < 0 || index + 1 >= workList.offsets.length) {
    throw new Error(`stage ${stageName}: expected a chunk index in [0, ${workList.offsets.length - 1}) of its work list, got ${index}`);
  }
  yield* readJsonl(store, layout.workList, { start: workList.offsets[index]!, end: workList.offsets[index + 1]! });
}

/** Every item of a planned map stage, in chunk order. */
export async function* stageItems(store: ObjectStore, runId: string, stageName: string, plan: StagePlan): AsyncIterable<Row> {
  if (plan.workList) {
    yield* readJsonl(store, runLayout(runId).stage(stageName).workList);
    return;
  }
  for (const range of plan.ranges) yield* readJsonl(store, runLayout(runId).stage(stageName).chunk(range.index));
}
