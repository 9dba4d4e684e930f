import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Outcome, Row } from '@finevideo/core';
import { FileStore, openStore, readParquetRows, runDuckDb, writeParquetRows } from '@finevideo/storage';
import { generateYtCommonsShards, startS3rver, type YtCommonsExpectation } from '@finevideo/testing';
import { CONTRACT_COLUMNS, OUTPUT_COLUMNS, SOURCE_REF_COLUMNS, sourceRefOf, withSourceText, ytcommonsParams, ytcommonsStage, type ShardItem } from '@finevideo/stages/ytcommons';
import { classifyParams, classifyStage } from '@finevideo/stages/classify';
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
    assert.deepEqual(Object.keys(kept[0]!).sort(), [...OUTPUT_COLUMNS, ...SOURCE_REF_COLUMNS, 'source_language', 'status', 'reason'].sort());
    assert.ok(!('text' in kept[0]!), 'transcripts are not copied');
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
    const planned = (await listed(source)).find((i) => i.key === 'part-*.parquet')!;
    const outcomes = await collect(ytcommonsStage.processItem(planned, ctx));
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
    const [outcome] = await collect(ytcommonsStage.processItem((await listed(join(dir, 'odd')))[0]!, ctx));
    assert.equal(outcome?.status, 'error');
    assert.match(outcome?.status === 'error' ? outcome.reason : '', /^schema: other\.parquet: expected the YouTube-Commons columns, got none of acodec, age_limit/);
  });

  /** Kept rows of one processed shard, with its other outcomes. */
  async function runShard(source: string, item: ShardItem, signal?: AbortSignal): Promise<{ kept: Row[]; others: Outcome[] }> {
    const ctx = await mediaItemContext(new FileStore(join(dir, 'store')), ytcommonsParams.parse({ source }));
    if (signal) ctx.signal = signal;
    const kept: Row[] = [];
    const others: Outcome[] = [];
    for (const o of await collect(ytcommonsStage.processItem(item, ctx))) {
      if (o.status === 'kept-parquet') for await (const r of readParquetRows(new FileStore(dirname(o.path)), basename(o.path))) kept.push(r);
      else others.push(o);
    }
    return { kept, others };
  }

  async function listed(source: string): Promise<ShardItem[]> {
    const ctx = await mediaItemContext(new FileStore(join(dir, 'store')), ytcommonsParams.parse({ source }));
    const items: ShardItem[] = [];
    for await (const item of ytcommonsStage.listItems({ ...ctx, hasPrevious: false, previousRows: async function* () {}, stageRows: async function* () {} })) items.push(item);
    return items;
  }

  const contractRow = (over: Row): Row => ({ ...Object.fromEntries(CONTRACT_COLUMNS.map((c) => [c, null])), original_language: 'en', transcription_language: 'en', word_count: 99, text: 'words', ...over });

  it('each kept row refers to its transcript in the source shard, and withSourceText reads it back (in order, truncated in DuckDB)', async () => {
    const source = join(dir, 'shards');
    const items = (await listed(source)).filter((i) => !/corrupt/.test(i.key));
    const texts = new Map<string, string>();
    for (const item of items) for await (const r of readParquetRows(new FileStore(source), item.key, { columns: ['video_id', 'text'] })) texts.set(String(r.video_id), String(r.text));
    const kept: Row[] = [];
    for (const item of items) kept.push(...(await runShard(source, item)).kept);
    assert.equal(kept.length, expectation.english.length);
    for (const r of kept) {
      const ref = sourceRefOf(r);
      assert.ok(ref, `row ${String(r.video_id)} has a source reference`);
      assert.equal(ref.source_uri, new FileStore(source).uri);
      assert.ok(items.some((i) => i.key === ref.source_shard && i.size === ref.source_size && i.version === ref.source_version), 'the reference records the shard as planned');
    }
    let n = 0;
    // Small batches: several queries per shard, and shard changes inside the stream.
    for await (const { entry, text } of withSourceText(kept, sourceRefOf, { batchRows: 37 })) {
      assert.equal(entry, kept[n++], 'input order');
      assert.equal(text, texts.get(String(entry.video_id)));
    }
    assert.equal(n, kept.length);
    for await (const { entry, text } of withSourceText(kept.slice(0, 5), sourceRefOf, { maxChars: 7 })) assert.equal(text, texts.get(String(entry.video_id))!.slice(0, 7));
    const none: unknown[] = [];
    for await (const { text } of withSourceText([{ video_id: 'x' } as Row], sourceRefOf)) none.push(text);
    assert.deepEqual(none, [null], 'a row without a reference comes out with text null');
  });

  it('classify lists its items with the transcripts read from the source shards (first transcriptChars)', async () => {
    const source = join(dir, 'shards');
    const items = (await listed(source)).filter((i) => !/corrupt/.test(i.key));
    const kept: Row[] = [];
    for (const item of items) kept.push(...(await runShard(source, item)).kept);
    const texts = new Map<string, string>();
    for (const item of items) for await (const r of readParquetRows(new FileStore(source), item.key, { columns: ['video_id', 'text'] })) texts.set(String(r.video_id), String(r.text));
    // Every third kept video reaches classify, from several shards.
    const wanted = kept.filter((_, i) => i % 3 === 0).map((r) => String(r.video_id));
    const params = classifyParams.parse({ method: 'lexical-baseline', transcriptChars: 300 });
    const ctx = await mediaItemContext(new FileStore(join(dir, 'store')), params);
    const listedItems = [];
    for await (const item of classifyStage.listItems({
      ...ctx, hasPrevious: true,
      previousRows: async function* () { for (const id of wanted) yield { video_id: id }; },
      stageRows: async function* () { yield* kept; },
    })) listedItems.push(item);
    assert.deepEqual(listedItems.map((i) => i.video_id).sort(), [...wanted].sort());
    for (const item of listedItems) {
      assert.equal(item.transcript, texts.get(item.video_id)!.slice(0, 300));
      assert.ok(item.transcript.length > 0);
    }
  });

  it('a changed source shard is a clear error, for ytcommons (error row) and for readers of its transcripts', async () => {
    const source = join(dir, 'mutable');
    const store = new FileStore(source);
    await writeParquetRows(store, 'a.parquet', [contractRow({ video_id: 'aaaaaaaaaaa', text: 'first' })]);
    const [item] = await listed(source);
    const { kept } = await runShard(source, item!);
    assert.equal(kept.length, 1);
    await writeParquetRows(store, 'a.parquet', [contractRow({ video_id: 'aaaaaaaaaaa', text: 'second, longer text' })]);
    await assert.rejects(async () => {
      for await (const _ of withSourceText(kept, sourceRefOf)) void _;
    }, /source shard a\.parquet in file:\/\/.*: expected the shard ytcommons read \(\d+ bytes, .*\), got \d+ bytes, .*immutable inputs/);
    const { kept: none, others } = await runShard(source, item!);
    assert.equal(none.length, 0);
    assert.match(others[0]?.status === 'error' ? others[0].reason : '', /^shard-changed: a\.parquet: expected the shard as planned/);
  });

  it('on S3 the reference records the ETag: transcripts read back from the bucket, a re-uploaded shard is refused', async () => {
    const s3 = await startS3rver({ buckets: ['refs'] });
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      const remote = openStore('s3://refs/p');
      const local = new FileStore(join(dir, 's3refs'));
      await writeParquetRows(local, 'a.parquet', [contractRow({ video_id: 'aaaaaaaaaaa', text: 'from the bucket' }), contractRow({ video_id: 'bbbbbbbbbbb', text: 'second row' })]);
      await remote.upload('a.parquet', join(dir, 's3refs', 'a.parquet'));
      const [item] = await listed('s3://refs/p');
      assert.match(String(item!.version), /^"?[0-9a-f]{32}"?$/, 'the ETag of the shard as planned');
      const { kept } = await runShard('s3://refs/p', item!);
      assert.deepEqual(kept.map((r) => [r.source_uri, r.source_shard, r.source_row, r.source_version]), [['s3://refs/p', 'a.parquet', 0, item!.version], ['s3://refs/p', 'a.parquet', 1, item!.version]]);
      const texts: (string | null)[] = [];
      for await (const { text } of withSourceText(kept, sourceRefOf)) texts.push(text);
      assert.deepEqual(texts, ['from the bucket', 'second row']);
      // Same size, other content: only the ETag tells them apart.
      await writeParquetRows(local, 'a.parquet', [contractRow({ video_id: 'aaaaaaaaaaa', text: 'FROM THE BUCKET' }), contractRow({ video_id: 'bbbbbbbbbbb', text: 'SECOND ROW' })]);
      await remote.upload('a.parquet', join(dir, 's3refs', 'a.parquet'));
      const [again] = await listed('s3://refs/p');
      assert.equal(again!.size, item!.size);
      assert.notEqual(again!.version, item!.version);
      await assert.rejects(async () => {
        for await (const _ of withSourceText(kept, sourceRefOf)) void _;
      }, /source shard a\.parquet in s3:\/\/refs\/p: expected the shard ytcommons read/);
    } finally {
      process.env = saved;
      await s3.stop();
    }
  });

  it('video ids are strings (integer ids are cast); a NULL or blank id is an error row with its shard and row', async () => {
    const source = join(dir, 'ids');
    const store = new FileStore(source);
    await writeParquetRows(store, 'ints.parquet', [contractRow({ video_id: 123 }), contractRow({ video_id: 456 }), contractRow({ video_id: 789, original_language: 'fr' })]);
    const [ints] = await listed(source);
    const fromInts = await runShard(source, ints!);
    assert.deepEqual(fromInts.kept.map((r) => r.video_id), ['123', '456']);
    assert.deepEqual(fromInts.others.map((o) => (o.status === 'dropped' ? `${o.reason}:${o.count}` : o.status)), ['not-english-original:1']);
    await writeParquetRows(store, 'nulls.parquet', [contractRow({ video_id: 'aaaaaaaaaaa' }), contractRow({ video_id: null }), contractRow({ video_id: '   ' }), contractRow({ video_id: 'bbbbbbbbbbb', original_language: 'de' })]);
    const nulls = (await listed(source)).find((i) => i.key === 'nulls.parquet')!;
    const fromNulls = await runShard(source, nulls);
    assert.deepEqual(fromNulls.kept.map((r) => r.video_id), ['aaaaaaaaaaa']);
    const errors = fromNulls.others.filter((o) => o.status === 'error');
    assert.deepEqual(errors.map((o) => (o.status === 'error' ? o.reason : '')), [
      'invalid-id: nulls.parquet row 1: expected a video id (1 to 64 characters without spaces or slashes), got NULL',
      'invalid-id: nulls.parquet row 2: expected a video id (1 to 64 characters without spaces or slashes), got "   "',
    ]);
    assert.deepEqual(errors.map((o) => o.row?.source_row), [1, 2]);
    assert.deepEqual(fromNulls.others.filter((o) => o.status === 'dropped').map((o) => o.status === 'dropped' && o.count), [1]);
  });

  it('a shard whose name is not valid UTF-8 is an error row, and the other shards are read', async function () {
    const source = join(dir, 'names');
    const store = new FileStore(source);
    await writeParquetRows(store, 'good.parquet', [contractRow({ video_id: 'ggggggggggg' })]);
    const bad = Buffer.concat([Buffer.from(source), Buffer.from('/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.parquet')]);
    try {
      await copyFile(join(source, 'good.parquet'), bad);
    } catch (e) {
      // Some filesystems (not Linux ext4/xfs/tmpfs) refuse such names: nothing to list then.
      console.log(`      skipped: this filesystem refuses a non-UTF-8 file name (${(e as Error).message})`);
      this.skip();
    }
    const items = await listed(source);
    assert.equal(items.length, 2);
    const outcomes = [];
    for (const item of items) outcomes.push(await runShard(source, item));
    const reasons = outcomes.flatMap((o) => o.others).filter((o) => o.status === 'error').map((o) => (o.status === 'error' ? o.reason : ''));
    assert.deepEqual(reasons, ['shard-name: expected a UTF-8 file name, got "bad-\\xff\\xfe.parquet"']);
    assert.deepEqual(outcomes.flatMap((o) => o.kept).map((r) => r.video_id), ['ggggggggggg']);
  });

  it('a missing source folder (or a file) is a config error naming it', async () => {
    await assert.rejects(() => listed(join(dir, 'no-such-folder')), (e: Error) => e.name === 'ConfigError' && /ytcommons\.params\.source: expected a folder of parquet shards, got ".*no-such-folder", which does not exist/.test(e.message));
    await assert.rejects(() => listed(join(dir, 'shards', 'part-00000.parquet')), (e: Error) => e.name === 'ConfigError' && /^source: expected a folder, got a file at .*part-00000\.parquet$/.test(e.message));
  });

  it('DuckDB out of memory on a shard fails the chunk (SystemicError) naming FINEVIDEO_DUCKDB_MEMORY and its value', async () => {
    // One oversized cell, and a worker process whose DuckDB may use 16MB.
    const source = join(dir, 'oversized');
    await mkdir(source, { recursive: true });
    const columns = CONTRACT_COLUMNS.map((c) => (c === 'description' ? `repeat('x', 60000000) AS description` : c === 'word_count' ? '99 AS word_count' : c.endsWith('language') ? `'en' AS ${c}` : c === 'video_id' ? `'bbbbbbbbbbb' AS video_id` : `NULL::VARCHAR AS ${c}`));
    await runDuckDb(`COPY (SELECT ${columns.join(', ')}) TO '${join(source, 'big.parquet')}' (FORMAT parquet)`);
    const script = `
      import { FileStore } from '@finevideo/storage';
      import { ytcommonsStage, ytcommonsParams } from '@finevideo/stages/ytcommons';
      const ctx = { params: ytcommonsParams.parse({ source: ${JSON.stringify(source)} }), tmpDir: ${JSON.stringify(dir)}, signal: new AbortController().signal };
      const [item] = await (async () => { const a = []; for await (const i of ytcommonsStage.listItems(ctx)) a.push(i); return a; })();
      try { for await (const o of ytcommonsStage.processItem(item, ctx)) console.log(JSON.stringify(o)); }
      catch (e) { console.log(JSON.stringify({ thrown: e.name, errorClass: e.errorClass, retryable: e.retryable, message: e.message })); }
      void FileStore;`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, FINEVIDEO_DUCKDB_MEMORY: '16MB' }, cwd: process.cwd() });
    const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const thrown = lines.find((l) => l.thrown);
    assert.ok(thrown, `expected the shard to fail the chunk, got ${r.stdout}${r.stderr}`);
    assert.equal(thrown.thrown, 'SystemicError');
    assert.equal(thrown.errorClass, 'out of memory');
    assert.equal(thrown.retryable, true);
    assert.match(String(thrown.message), /^out of memory: DuckDB ran out of memory reading shard big\.parquet \(FINEVIDEO_DUCKDB_MEMORY=16MB\); raise FINEVIDEO_DUCKDB_MEMORY/);
  });

  it('a storage that fails a download fails the chunk (SystemicError), not the shard', async () => {
    const s3 = await startS3rver({ buckets: ['flaky'] });
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      const remote = openStore('s3://flaky/p');
      await remote.upload('a.parquet', join(dir, 'shards', 'part-00000.parquet'));
      const [item] = await listed('s3://flaky/p');
      await s3.stop();
      process.env.FINEVIDEO_S3_MAX_ATTEMPTS = '1';
      await assert.rejects(() => runShard('s3://flaky/p', item!), (e: Error) => e.name === 'SystemicError' && /^storage download: shard a\.parquet from s3:\/\/flaky\/p: /.test(e.message));
    } finally {
      process.env = saved;
      await s3.stop().catch(() => undefined);
    }
  });

  it('honours the abort signal: an aborted shard throws the abort reason', async () => {
    const source = join(dir, 'shards');
    const [item] = await listed(source);
    const abort = new AbortController();
    abort.abort(new Error('cancelled by test'));
    await assert.rejects(() => runShard(source, item!, abort.signal), /cancelled by test/);
    const running = new AbortController();
    const query = runDuckDb('SELECT count(*) FROM range(100000000000)', { signal: running.signal });
    setTimeout(() => running.abort(new Error('interrupted by test')), 100);
    await assert.rejects(query, /interrupted by test/, 'a running DuckDB query is interrupted');
  });
});
