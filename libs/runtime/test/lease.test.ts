import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, ObjectStore } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { S3Store } from '@finevideo/storage/s3';
import { setEnv, startConditionalWriteProxy, startS3rver, type ConditionalWriteProxy, type S3rverHandle } from '@finevideo/testing';
import { LeaseHeldError, acquireRunLease, breakRunLease, heartbeatKey, holderLiveness, leaseKey, withRunLease, type LeaseHolder } from '@finevideo/runtime';

/** The pid of a process that has exited (so no live process has it, barring an immediate reuse). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined };
}

/** The same checks for every store that implements createIfAbsent. */
function leaseBehaviour(name: string, open: () => ObjectStore) {
  describe(`run lease on ${name}`, () => {
    it('creates an object only once, even with racing writers', async () => {
      const store = open();
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.createIfAbsent('race/one.json', `writer ${i}`)));
      assert.equal(results.filter(Boolean).length, 1, `exactly one writer wins, got ${JSON.stringify(results)}`);
      const winner = results.indexOf(true);
      assert.equal(await store.getText('race/one.json'), `writer ${winner}`);
      assert.equal(await store.createIfAbsent('race/one.json', 'late'), false);
    });

    it('refuses a second launcher with the holder and why it is alive, without suggesting unlock; release lets the next one in', async () => {
      const store = open();
      const first = await acquireRunLease(store, 'r1', { command: 'finevideo run p.yaml' });
      const stored = JSON.parse((await store.getText(leaseKey('r1')))!) as LeaseHolder;
      assert.equal(stored.host, hostname());
      assert.equal(stored.pid, process.pid);
      assert.equal(stored.command, 'finevideo run p.yaml');
      await assert.rejects(acquireRunLease(store, 'r1'), (e: Error) => {
        assert.ok(e instanceof LeaseHeldError, 'a usage error (exit 2)');
        assert.match(e.message, new RegExp(`host ${hostname()}, pid ${process.pid}, since ${stored.startedAt}, running "finevideo run p.yaml"`));
        assert.match(e.message, /alive: it is this process\)\. Wait for it to finish, or stop it/);
        assert.doesNotMatch(e.message, /unlock|--break-lease/, 'a live holder is never to be unlocked');
        return true;
      });
      await first.release();
      assert.equal(await store.getText(leaseKey('r1')), undefined);
      const second = await acquireRunLease(store, 'r1');
      await second.release();
    });

    it('takes over a lease whose launcher died on this host, not one held on another host with a fresh heartbeat unless told to', async () => {
      const store = open();
      const dead = await deadPid();
      await store.put(leaseKey('r2'), JSON.stringify({ host: hostname(), pid: dead, startedAt: '2026-01-01T00:00:00.000Z', command: 'finevideo run', token: 'old' }));
      const log = recordingLog();
      const lease = await acquireRunLease(store, 'r2', { log });
      assert.equal(JSON.parse((await store.getText(leaseKey('r2')))!).pid, process.pid);
      assert.match(log.warnings.join('\n'), new RegExp(`taking over the lease of a launcher that is gone: pid ${dead} no longer runs on this host \\(host ${hostname()}, pid ${dead}`));
      await lease.release();

      await store.put(leaseKey('r3'), JSON.stringify({ host: 'elsewhere.example', pid: dead, startedAt: '2026-01-01T00:00:00.000Z', command: 'finevideo resume', token: 'ab12', ttlSeconds: 60 }));
      await store.put(heartbeatKey('r3', 'ab12'), JSON.stringify({ at: new Date().toISOString() }));
      await assert.rejects(acquireRunLease(store, 'r3'), (e: Error) => {
        assert.match(e.message, /host elsewhere\.example, pid \d+, since 2026-01-01T00:00:00\.000Z, running "finevideo resume"; alive: its heartbeat is \d+ s old \(TTL 60 s\)/);
        assert.doesNotMatch(e.message, /unlock/, 'a live holder is waited for, not unlocked');
        return true;
      });
      const broken = await acquireRunLease(store, 'r3', { breakLease: true, log });
      assert.match(log.warnings.at(-1)!, /breaking the lease \(host elsewhere\.example/);
      await broken.release();
    });

    it('knows who is alive: a pid reused by another process, a heartbeat past its TTL, a live launcher renewing its heartbeat', async () => {
      const store = open();
      const log = recordingLog();
      // This host, a running pid whose start time is not the holder's: a later process reused the pid.
      await store.put(leaseKey('r5'), JSON.stringify({ host: hostname(), pid: process.pid === 1 ? 2 : 1, startedAt: '2026-01-01T00:00:00.000Z', command: 'old', token: 'aa', processStart: 'proc:-1' }));
      const reused = await acquireRunLease(store, 'r5', { log });
      assert.match(log.warnings.at(-1)!, /now belongs to another process \(its start time differs\)/);
      await reused.release();
      // Another host, silent past its TTL: gone, taken over without --break-lease.
      await store.put(leaseKey('r6'), JSON.stringify({ host: 'elsewhere.example', pid: 7, startedAt: '2026-01-01T00:00:00.000Z', command: 'old', token: 'bb', ttlSeconds: 30 }));
      await store.put(heartbeatKey('r6', 'bb'), JSON.stringify({ at: new Date(Date.now() - 45_000).toISOString() }));
      const silent = await acquireRunLease(store, 'r6', { log });
      assert.match(log.warnings.at(-1)!, /gone: its heartbeat is 45 s old, past its TTL of 30 s/);
      // A live holder renews its heartbeat every third of its TTL; release removes it.
      const live = await acquireRunLease(store, 'r7', { ttlSeconds: 0.6 });
      const first = JSON.parse((await store.getText(heartbeatKey('r7', live.holder.token)))!).at as string;
      await new Promise((resolve) => setTimeout(resolve, 700));
      const later = JSON.parse((await store.getText(heartbeatKey('r7', live.holder.token)))!).at as string;
      assert.ok(later > first, `the heartbeat was renewed (${first} -> ${later})`);
      assert.equal((await holderLiveness(store, 'r7', { ...live.holder, host: 'elsewhere.example' })).alive, true);
      await live.release();
      await silent.release();
      assert.equal(await store.exists(heartbeatKey('r7', live.holder.token)), false);
    });

    it('release removes only its own lease; unlock removes any; withRunLease releases after a failure', async () => {
      const store = open();
      const mine = await acquireRunLease(store, 'r4');
      const holder = await breakRunLease(store, 'r4');
      assert.equal(holder?.pid, process.pid);
      const theirs = await acquireRunLease(store, 'r4', { command: 'other launcher' });
      await mine.release();
      assert.match((await store.getText(leaseKey('r4')))!, /other launcher/, 'a broken lease does not remove its successor');
      await theirs.release();
      assert.equal(await breakRunLease(store, 'r4'), undefined);
      await assert.rejects(withRunLease(store, 'r4', {}, async () => {
        assert.ok(await store.exists(leaseKey('r4')));
        throw new Error('stage blew up');
      }), /stage blew up/);
      assert.equal(await store.exists(leaseKey('r4')), false);
    });
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fv-lease-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
leaseBehaviour('a folder', () => new FileStore(join(dir, String(Math.random()).slice(2))));

describe('S3 conditional create', function () {
  this.timeout(60_000);
  let s3: S3rverHandle;
  let proxy: ConditionalWriteProxy;
  let restoreEnv: () => void = () => undefined;
  before(async () => {
    s3 = await startS3rver({ buckets: ['lease'] });
    proxy = await startConditionalWriteProxy(s3.endpoint);
    restoreEnv = setEnv(s3.env);
  });
  after(async () => {
    restoreEnv();
    await proxy?.close();
    await s3?.stop();
  });

  it('sends PutObject with If-None-Match: * (s3rver alone would overwrite; the proxy answers 412 as S3 does)', async () => {
    const store = S3Store.fromUri('s3://lease/p', { endpoint: proxy.endpoint, forcePathStyle: true });
    assert.equal(await store.createIfAbsent('k.json', 'first'), true);
    assert.equal(await store.createIfAbsent('k.json', 'second'), false);
    assert.equal(await store.getText('k.json'), 'first');
    assert.equal(proxy.conditionalPuts, 2, 'both writes were conditional');
    assert.equal(proxy.refused, 1);
  });

  leaseBehaviour('S3 (s3rver behind a conditional-write proxy)', () =>
    S3Store.fromUri(`s3://lease/${String(Math.random()).slice(2)}`, { endpoint: proxy.endpoint, forcePathStyle: true }));
});
