import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Outcome, Row } from '@finevideo/core';
import { FileStore, openStore, readParquetRows, writeParquetRows } from '@finevideo/storage';
import { generateYtCommonsShards, startS3rver, type YtCommonsExpectation } from '@finevideo/testing';
import { CONTRACT_COLUMNS, ytcommonsParams, ytcommonsStage } from '@finevideo/stages/ytcommons';
import { mediaItemContext } from './media-context.js';

async function collect(iterable: AsyncIterable<Outcome> | Promise<Outcome | Outcome[]>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  if (Symbol.asyncIterator in iterable) for await (const o of iterable as AsyncIterable<Outcome>) out.push(o);
  else out.push(...([] as Outcome[]).concat(await iterable));
  return out;
}

describe('stage ytcommons', function () {
  this.timeout(60_000);
  let dir: string;
  let expectation: YtCommonsExpectation;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ytcommons-'));
    expectation = await generateYtCommonsShards(join(dir, 'shards'), { shards: 3, rowsPerShard: 150, seed: 7, corruptShard: true, averageTextBytes: 2000 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps the contract rows with the contract columns and counts each drop reason, matching the generator', async () => {
    const params = ytcommonsParams.parse({ source: join(dir, 'shards') });
    const ctx = await mediaItemContext(new FileStore(join(dir, 'store')), params);
    const items = [];
    for await (const item of ytcommonsStage.listItems({ ...ctx, hasPrevious: false, previousRows: async function* () {}, stageRows: async function* () {} })) items.push(item);
    assert.equal(items.length, 4, 'three shards and the corrupt one, in name order');
    assert.match(items[3]!.key, /corrupt/);
    const outcomes: Outcome[] = [];
    for (const item of items) outcomes.push(...(await collect(ytcommonsStage.processItem(item, ctx))));
    const kept: Row[] = [];
    let counted = 0;
    for (const o of outcomes) {
      assert.notEqual(o.status, 'kept', 'kept rows come as parquet written by DuckDB, not one by one');
      if (o.status !== 'kept-parquet') continue;
      counted += o.count;
      for await (const r of readParquetRows(new FileStore(dirname(o.path)), basename(o.path))) kept.push(r);
    }
    assert.equal(counted, kept.length);
    assert.deepEqual(kept.map((r) => r.video_id).sort(), expectation.english);
    assert.deepEqual(Object.keys(kept[0]!).sort(), [...CONTRACT_COLUMNS, 'source_language', 'status', 'reason'].sort());
    assert.ok(kept.every((r) => r.status === 'kept' && r.reason === null), 'the file is an output part as it is');
    assert.ok(kept.every((r) => r.source_language === 'en'), 'source_language comes from language_id_method where the shard lacks it');
    const dropped = (reason: string) => outcomes.reduce((n, o) => n + (o.status === 'dropped' && o.reason === reason ? (o.count ?? 1) : 0), 0);
    assert.equal(dropped('not-english-original'), expectation.droppedNotEnglishOriginal);
    assert.equal(dropped('not-english-transcript'), expectation.droppedNotEnglishTranscript);
    assert.equal(dropped('too-few-words'), expectation.droppedTooFewWords);
    const errors = outcomes.filter((o) => o.status === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.status === 'error' ? errors[0]!.reason : '', /^unreadable-shard: part-00003-corrupt\.parquet: /);
    assert.doesNotMatch(errors[0]!.status === 'error' ? errors[0]!.reason : '', new RegExp(dir), 'the shard is named by its key, not a path');
  });

  it('a shard whose name holds glob characters reads only itself', async () => {
    const source = join(dir, 'globbed');
    const store = new FileStore(source);
    const row = (id: string) => Object.fromEntries([...CONTRACT_COLUMNS.map((c) => [c, null]), ['video_id', id], ['original_language', 'en'], ['transcription_language', 'en'], ['word_count', 99]]) as Row;
    await writeParquetRows(store, 'part-1.parquet', [row('aaaaaaaaaaa')]);
    await writeParquetRows(store, 'part-2.parquet', [row('bbbbbbbbbbb')]);
    await writeParquetRows(store, 'part-*.parquet', [row('ccccccccccc')]);
    const ctx = await mediaItemContext(new FileStore(join(dir, 'globstore')), ytcommonsParams.parse({ source }));
    const outcomes = await collect(ytcommonsStage.processItem({ key: 'part-*.parquet', size: 1 }, ctx));
    const part = outcomes.find((o) => o.status === 'kept-parquet');
    assert.ok(part && part.status === 'kept-parquet', JSON.stringify(outcomes));
    const ids: unknown[] = [];
    for await (const r of readParquetRows(new FileStore(dirname(part.path)), basename(part.path))) ids.push(r.video_id);
    assert.deepEqual(ids, ['ccccccccccc']);
  });

  it('reads shards from an S3 prefix (s3rver) with the same result as from a folder', async () => {
    const s3 = await startS3rver({ buckets: ['yt-commons'] });
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      const remote = openStore('s3://yt-commons/cc-by');
      const local = new FileStore(join(dir, 'shards'));
      for await (const { key } of local.list('')) await remote.upload(key, join(dir, 'shards', key));
      const kept = async (source: string) => {
        const ctx = await mediaItemContext(new FileStore(join(dir, 'store')), ytcommonsParams.parse({ source }));
        const ids: unknown[] = [];
        const reasons: string[] = [];
        for await (const item of ytcommonsStage.listItems({ ...ctx, hasPrevious: false, previousRows: async function* () {}, stageRows: async function* () {} })) {
          for (const o of await collect(ytcommonsStage.processItem(item, ctx))) {
            if (o.status === 'kept-parquet') for await (const r of readParquetRows(new FileStore(dirname(o.path)), basename(o.path))) ids.push(r.video_id);
            else if (o.status === 'kept') ids.push(o.row.video_id);
            else reasons.push(`${o.status}:${o.reason.split(':')[0]}:${o.status === 'dropped' ? o.count : ''}`);
          }
        }
        return { ids: ids.sort(), reasons };
      };
      const fromS3 = await kept('s3://yt-commons/cc-by');
      assert.deepEqual(fromS3.ids, expectation.english);
      assert.deepEqual(fromS3, await kept(join(dir, 'shards')));
    } finally {
      process.env = saved;
      await s3.stop();
    }
  });

  it('a shard without the YouTube-Commons columns is an error row naming what is missing', async () => {
    const store = new FileStore(join(dir, 'odd'));
    await writeParquetRows(store, 'other.parquet', [{ video_id: 'abcdefghijk', title: 'x' } as Row]);
    const ctx = await mediaItemContext(store, ytcommonsParams.parse({ source: join(dir, 'odd') }));
    const [outcome] = await collect(ytcommonsStage.processItem({ key: 'other.parquet', size: 1 }, ctx));
    assert.equal(outcome?.status, 'error');
    assert.match(outcome?.status === 'error' ? outcome.reason : '', /^schema: other\.parquet: expected the YouTube-Commons columns, got none of acodec, age_limit/);
  });
});
