import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { seededRandom, shuffleInPlace, type ObjectStore } from '@finevideo/core';
import { FileStore, openStore, readJsonl, readParquetRows, writeParquetRows, parquetRowCount, parquetColumns } from '@finevideo/storage';
import { S3Store, s3ClientFor } from '@finevideo/storage/s3';
import { setEnv, startFaultProxy, startS3rver, type S3rverHandle } from '@finevideo/testing';

/** A deterministic stream of n bytes in 1 MiB pieces. */
function bytes(n: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= n) return this.push(null);
      const size = Math.min(1 << 20, n - sent);
      const piece = Buffer.alloc(size);
      for (let i = 0; i < size; i++) piece[i] = (sent + i) % 251;
      sent += size;
      this.push(piece);
    },
  });
}

let s3: S3rverHandle;
let restoreEnv: () => void = () => undefined;
before(async function () {
  this.timeout(30_000);
  s3 = await startS3rver({ buckets: ['finevideo-test'] });
  restoreEnv = setEnv(s3.env);
});
after(async () => {
  restoreEnv();
  await s3?.stop();
});

const backends: [string, () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> }>][] = [
  ['file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-'));
    return { store: new FileStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
  }],
  // openStore gives the lazy S3 store (the SDK loads on first use); S3Store is the store it delegates to.
  ['s3 (s3rver, openStore)', async () => ({ store: openStore(`s3://finevideo-test/t-${randomUUID()}`), cleanup: async () => undefined })],
  ['s3 (s3rver, S3Store)', async () => ({ store: S3Store.fromUri(`s3://finevideo-test/t-${randomUUID()}`), cleanup: async () => undefined })],
];

describe('openStore on s3:// loads the AWS SDK only when the store is used', () => {
  it('importing the storage library and using a folder store loads no @aws-sdk module; the first S3 call does', async function () {
    this.timeout(60_000);
    // A resolve hook in a child process records every @aws-sdk module the process loads.
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { if (specifier.includes('@aws-sdk/')) seen.push(specifier); return next(specifier, context); } });
      const { openStore } = await import('@finevideo/storage');
      const folder = openStore(process.argv[1]);
      await folder.put('a/b.txt', 'x');
      const s3 = openStore('s3://finevideo-test/lazy-probe');
      const before = seen.length;
      await s3.exists('nothing-here');
      console.log(JSON.stringify({ before, after: seen.length, uri: s3.uri }));`;
    const dir = await mkdtemp(join(tmpdir(), 'fv-lazy-s3-'));
    try {
      const { execFileSync } = await import('node:child_process');
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], { encoding: 'utf8', env: { ...process.env, ...s3.env } });
      const result = JSON.parse(out.trim().split('\n').pop()!) as { before: number; after: number; uri: string };
      assert.equal(result.before, 0, 'no @aws-sdk module before the first S3 call');
      assert.ok(result.after > 0, 'the first S3 call loads the SDK');
      assert.equal(result.uri, 's3://finevideo-test/lazy-probe');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

for (const [name, make] of backends) {
  describe(`ObjectStore contract: ${name}`, function () {
    this.timeout(60_000);
    let store: ObjectStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ store, cleanup } = await make()));
    afterEach(() => cleanup());

    it('puts, gets, checks, lists sorted by prefix and deletes', async () => {
      await store.put('runs/r/b.json', '{"b":1}');
      await store.put('runs/r/a.json', Buffer.from('{"a":1}'));
      await store.put('runs/r2/c.json', 'c');
      await store.put('media/x/y.txt', Readable.from(['hello ', 'world']));
      assert.equal((await store.get('runs/r/a.json')).toString(), '{"a":1}');
      assert.equal(await store.getText('media/x/y.txt'), 'hello world');
      assert.equal(await store.getText('nope/missing.json'), undefined);
      await assert.rejects(store.get('nope/missing.json'), /nope\/missing\.json.*expected it to exist, got not found/);
      assert.equal(await store.exists('runs/r/a.json'), true);
      assert.equal(await store.exists('runs/r/zzz.json'), false);
      const listed = [];
      // S3 listings also carry each object's ETag as its version (checked by readers of source shards).
      for await (const o of store.list('runs/r/')) listed.push({ key: o.key, size: o.size });
      assert.deepEqual(listed, [{ key: 'runs/r/a.json', size: 7 }, { key: 'runs/r/b.json', size: 7 }]);
      const all = [];
      for await (const o of store.list('runs/')) all.push(o.key);
      assert.deepEqual(all, ['runs/r/a.json', 'runs/r/b.json', 'runs/r2/c.json']);
      await store.delete('runs/r/a.json');
      await store.delete('runs/r/never-there.json');
      assert.equal(await store.exists('runs/r/a.json'), false);
      const child = store.child('runs/r2');
      assert.equal(await child.getText('c.json'), 'c');
    });

    it('streams a large object up (multipart on S3) and down unchanged', async () => {
      const size = 21 * 1024 * 1024 + 17;
      await store.put('big/blob.bin', bytes(size));
      const dir = await mkdtemp(join(tmpdir(), 'dl-'));
      try {
        await store.download('big/blob.bin', join(dir, 'blob.bin'));
        assert.equal((await stat(join(dir, 'blob.bin'))).size, size);
        const data = await readFile(join(dir, 'blob.bin'));
        assert.equal(data[size - 1], (size - 1) % 251);
        await writeFile(join(dir, 'up.bin'), data.subarray(0, 1000));
        await store.upload('big/up.bin', join(dir, 'up.bin'));
        assert.deepEqual(await store.get('big/up.bin'), data.subarray(0, 1000));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('rejects keys that could escape the store', async () => {
      for (const bad of ['../x', 'a//b', '/abs', 'a/../b', '', 'a\\b']) {
        await assert.rejects(store.put(bad, 'x'), /object key: expected/, `key ${JSON.stringify(bad)}`);
      }
    });

    it('writes and reads parquet through the store', async () => {
      const rows = [
        { id: 1, name: 'a', score: 0.5, tags: ['x', 'y'], nested: { k: true }, missing: null },
        { id: 2, name: null, score: 1.25, tags: [], nested: { k: false }, missing: null },
        { id: 3, name: 'big', score: 0, tags: ['z'], nested: { k: true }, missing: null },
      ];
      await writeParquetRows(store, 't/table.parquet', rows);
      const back = [];
      for await (const r of readParquetRows(store, 't/table.parquet')) back.push(r);
      assert.deepEqual(back, rows);
      assert.equal(await parquetRowCount(store, 't/table.parquet', `score > 0.1`), 2);
      const projected = [];
      for await (const r of readParquetRows(store, 't/table.parquet', { columns: ['name'], where: `id = 2` })) projected.push(r);
      assert.deepEqual(projected, [{ name: null }]);
      assert.deepEqual((await parquetColumns(store, 't/table.parquet')).map((c) => c.name), ['id', 'name', 'score', 'tags', 'nested', 'missing']);
      await store.put('t/corrupt.parquet', 'PAR1 garbage');
      await assert.rejects(async () => {
        for await (const _ of readParquetRows(store, 't/corrupt.parquet')) void _;
      }, /parquet t\/corrupt\.parquet: expected a readable parquet file/);
    });

    it('reads a column a part lacks as null (parts are unioned by name), and an empty part as no rows', async () => {
      await writeParquetRows(store, 't/empty.parquet', []);
      const none = [];
      for await (const r of readParquetRows(store, 't/empty.parquet', { columns: ['video_id', 'duration'] })) none.push(r);
      assert.deepEqual(none, []);
      await writeParquetRows(store, 't/some.parquet', [{ video_id: 'a', status: 'kept' }]);
      const some = [];
      for await (const r of readParquetRows(store, 't/some.parquet', { columns: ['video_id', 'duration'], where: `status = 'kept'` })) some.push(r);
      assert.deepEqual(some, [{ video_id: 'a', duration: null }]);
    });

    it('lists in key order (a folder sorts as its name plus "/", as S3 orders keys) and by a prefix that ends inside a name', async () => {
      const keys = ['l/b', 'l/ab/c', 'l/a0', 'l/a.b', 'l/a/c/d', 'l/a/b', 'l/a-c', 'm/x'];
      for (const key of keys) await store.put(key, key);
      const listed = async (prefix: string) => {
        const out: string[] = [];
        for await (const o of store.list(prefix)) out.push(o.key);
        return out;
      };
      const expected = keys.filter((k) => k.startsWith('l/')).sort();
      assert.deepEqual(expected, ['l/a-c', 'l/a.b', 'l/a/b', 'l/a/c/d', 'l/a0', 'l/ab/c', 'l/b']);
      assert.deepEqual(await listed('l/'), expected);
      assert.deepEqual(await listed('l/a'), expected.filter((k) => k.startsWith('l/a')));
      assert.deepEqual(await listed('l/a/'), ['l/a/b', 'l/a/c/d']);
      assert.deepEqual(await listed(''), [...expected, 'm/x']);
      assert.deepEqual(await listed('nothing/here/'), []);
      const sizes: number[] = [];
      for await (const o of store.list('l/a/')) sizes.push(o.size);
      assert.deepEqual(sizes, [5, 7]);
    });

    it('streams a JSONL object row by row, names a bad line by number, and stops early without reading the rest', async () => {
      const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ i, id: `v${i}` }));
      await store.put('w/chunk.jsonl', `${lines.slice(0, 2500).join('\n')}\n\n${lines.slice(2500).join('\r\n')}\n`);
      let count = 0;
      for await (const row of readJsonl(store, 'w/chunk.jsonl')) {
        assert.equal(row.i, count);
        count++;
      }
      assert.equal(count, 5000, 'every row, the blank line skipped, CRLF ends read');
      for await (const row of readJsonl(store, 'w/chunk.jsonl')) {
        assert.deepEqual(row, { i: 0, id: 'v0' });
        break;
      }
      await store.put('w/bad.jsonl', '{"a":1}\n{"a":\n');
      await assert.rejects(async () => {
        for await (const _ of readJsonl(store, 'w/bad.jsonl')) void _;
      }, /w\/bad\.jsonl line 2: expected a JSON object/);
      await assert.rejects(async () => {
        for await (const _ of readJsonl(store, 'w/missing.jsonl')) void _;
      }, /w\/missing\.jsonl.*expected it to exist, got not found/);
    });

    it('reads a byte range of an object (a chunk of a work list), an empty range as nothing, and refuses a bad range', async () => {
      const text = 'h\u00e9llo\nworld\n';
      await store.put('w/list.jsonl', text);
      const read = async (start: number, end: number) => {
        const parts: Buffer[] = [];
        for await (const part of await store.getStream('w/list.jsonl', { start, end })) parts.push(Buffer.from(part as Uint8Array));
        return Buffer.concat(parts).toString('utf8');
      };
      assert.equal(await read(0, 7), 'h\u00e9llo\n', 'bytes, not characters: \u00e9 is two');
      assert.equal(await read(7, 13), 'world\n');
      assert.equal(await read(7, 7), '');
      await store.put('w/rows.jsonl', '{"a":1}\n{"a":2}\n{"a":3}\n');
      const rows = [];
      for await (const row of readJsonl(store, 'w/rows.jsonl', { start: 8, end: 16 })) rows.push(row);
      assert.deepEqual(rows, [{ a: 2 }]);
      await assert.rejects(() => store.getStream('w/list.jsonl', { start: 5, end: 2 }), /byte range of w\/list\.jsonl: expected whole numbers 0 <= start <= end, got \[5, 2\)/);
    });
  });
}

describe('S3Store listing pagination (s3rver, more than 1,000 keys)', function () {
  this.timeout(120_000);
  const total = 2345;
  const prefix = `pages-${randomUUID()}`;
  const name = (i: number) => `k/${String(i).padStart(5, '0')}.json`;
  before(async () => {
    const store = openStore(`s3://finevideo-test/${prefix}`);
    let next = 0;
    // Shuffled upload order: the listing order must come from the server, not from the writes.
    const order = shuffleInPlace(Array.from({ length: total }, (_, i) => i), seededRandom(3));
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < total; i = next++) await store.put(name(order[i]!), `${order[i]}`);
    }));
  });

  it('follows continuation tokens: every key once, in order, three pages of at most 1,000', async () => {
    const proxy = await startFaultProxy(s3.endpoint, { failFirst: 0 });
    try {
      const store = new S3Store(s3ClientFor({ endpoint: proxy.endpoint, forcePathStyle: true }), 'finevideo-test', prefix);
      const keys: string[] = [];
      let bytes = 0;
      for await (const o of store.list('k/')) {
        keys.push(o.key);
        bytes += o.size;
      }
      assert.equal(keys.length, total);
      assert.equal(new Set(keys).size, total, 'no key twice');
      assert.deepEqual(keys, Array.from({ length: total }, (_, i) => name(i)), 'none lost, in key order');
      assert.equal(bytes, Array.from({ length: total }, (_, i) => String(i).length).reduce((a, b) => a + b, 0));
      assert.equal(proxy.requests, Math.ceil(total / 1000), 'one request per page');
    } finally {
      await proxy.close();
    }
  });

  it('streams: a reader that stops after the first key costs one page, not the whole listing', async () => {
    const proxy = await startFaultProxy(s3.endpoint, { failFirst: 0 });
    try {
      const store = new S3Store(s3ClientFor({ endpoint: proxy.endpoint, forcePathStyle: true }), 'finevideo-test', prefix);
      for await (const o of store.list('k/')) {
        assert.equal(o.key, name(0));
        break;
      }
      assert.equal(proxy.requests, 1);
    } finally {
      await proxy.close();
    }
  });
});

describe('parquet from JSON rows', () => {
  it('strings that look like times and dates stay strings (DuckDB would read "4:05" as TIME), nested ones too', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fv-parquet-strings-'));
    try {
      const store = new FileStore(root);
      const rows = [
        { video_id: 'a', duration_string: '4:05', date: '2024-01-01', at: '2024-01-01 10:00:00', n: 3, meta: { t: '10:00' }, tags: ['12:30'] },
        { video_id: 'b', duration_string: '1:02:03', date: '2023-12-31', at: '2023-12-31 23:59:59', n: 4, meta: { t: '11:15' }, tags: ['08:00'] },
      ];
      await writeParquetRows(store, 't/strings.parquet', rows);
      const types = Object.fromEntries((await parquetColumns(store, 't/strings.parquet')).map((c) => [c.name, c.type]));
      assert.equal(types.duration_string, 'VARCHAR');
      assert.equal(types.date, 'VARCHAR');
      assert.equal(types.at, 'VARCHAR');
      assert.equal(types.n, 'BIGINT', 'numbers keep their inferred type');
      const back = [];
      for await (const r of readParquetRows(store, 't/strings.parquet')) back.push(r);
      assert.deepEqual(back.map((r) => [r.duration_string, r.date, r.at, (r.meta as { t: string }).t, (r.tags as string[])[0]]), [
        ['4:05', '2024-01-01', '2024-01-01 10:00:00', '10:00', '12:30'],
        ['1:02:03', '2023-12-31', '2023-12-31 23:59:59', '11:15', '08:00'],
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('FileStore atomicity', () => {
  it('a listing never shows a put under way: the temporary sibling a put writes is hidden', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fv-store-tmp-'));
    try {
      const store = new FileStore(root);
      await store.put('d/a.json', '1');
      // Catch the temporary file of a slow streamed put while it is being written.
      const body = new Readable({ read() {} });
      body.push('partial');
      const putting = store.put('d/b.json', body);
      let seen: string[] = [];
      for (let i = 0; i < 100 && !seen.some((n) => n.startsWith('b.json.tmp-')); i++) {
        await new Promise((r) => setTimeout(r, 10));
        seen = await readdir(join(root, 'd'));
      }
      assert.ok(seen.some((n) => n.startsWith('b.json.tmp-')), `expected the put's temporary file on disk, got ${seen.join(', ')}`);
      const listed: string[] = [];
      for await (const o of store.list('d/')) listed.push(o.key);
      assert.deepEqual(listed, ['d/a.json']);
      body.push(null);
      await putting;
      const after: string[] = [];
      for await (const o of store.list('d/')) after.push(o.key);
      assert.deepEqual(after, ['d/a.json', 'd/b.json']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a folder removed after a put (a stage reset) is made again by the next put into it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fv-store-reset-'));
    try {
      const store = new FileStore(root);
      await store.put('runs/r/s/chunks/000000.jsonl', 'a\n');
      await rm(join(root, 'runs', 'r', 's'), { recursive: true });
      await store.put('runs/r/s/chunks/000001.jsonl', 'b\n');
      assert.equal(await store.getText('runs/r/s/chunks/000001.jsonl'), 'b\n');
      await rm(join(root, 'runs', 'r', 's'), { recursive: true });
      const local = join(root, 'upload-source.txt');
      await writeFile(local, 'c\n');
      await store.upload('runs/r/s/out/000000-0000.parquet', local);
      assert.equal(await store.getText('runs/r/s/out/000000-0000.parquet'), 'c\n');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a reader never sees a partial object while a large put is under way', async function () {
    this.timeout(60_000);
    const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
    try {
      const store = new FileStore(dir);
      const size = 32 * 1024 * 1024;
      const put = store.put('x/big.bin', bytes(size));
      const seen = new Set<number>();
      let done = false;
      void put.then(() => (done = true));
      while (!done) {
        try {
          seen.add((await stat(join(dir, 'x', 'big.bin'))).size);
        } catch {
          seen.add(-1);
        }
        await new Promise((r) => setImmediate(r));
      }
      await put;
      seen.add((await stat(join(dir, 'x', 'big.bin'))).size);
      assert.deepEqual([...seen].filter((s) => s !== -1), [size], `sizes seen: ${[...seen]}`);
      const listed = [];
      for await (const o of store.list('x/')) listed.push(o.key);
      assert.deepEqual(listed, ['x/big.bin'], 'no temporary file is left or listed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3Store retries', function () {
  this.timeout(60_000);
  it('retries throttling and 5xx answers, then succeeds', async () => {
    const proxy = await startFaultProxy(s3.endpoint, { failFirst: 3, status: 503, code: 'SlowDown' });
    try {
      const store = S3Store.fromUri('s3://finevideo-test/retry', { endpoint: proxy.endpoint, forcePathStyle: true });
      await store.put('a.txt', 'after faults');
      assert.equal(proxy.injected, 3);
      assert.equal(await store.getText('a.txt'), 'after faults');
    } finally {
      await proxy.close();
    }
  });

  it('gives up after its attempts with an error naming bucket and key, never the credentials', async () => {
    const proxy = await startFaultProxy(s3.endpoint, { failFirst: 1000, status: 500, code: 'InternalError' });
    try {
      const store = S3Store.fromUri('s3://finevideo-test/retry', { endpoint: proxy.endpoint, forcePathStyle: true });
      await assert.rejects(store.put('b.txt', 'never'), (e: Error) => {
        assert.match(e.message, /put s3:\/\/finevideo-test\/retry\/b\.txt/);
        assert.doesNotMatch(e.message, /S3RVER/);
        return true;
      });
      assert.ok(proxy.requests >= 3, `expected several attempts, got ${proxy.requests}`);
    } finally {
      await proxy.close();
    }
  });
});
