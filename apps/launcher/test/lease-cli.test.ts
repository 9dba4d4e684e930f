import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileStore, writeParquetRows } from '@finevideo/storage';
import { cli, keptYtCommonsRow, root, runCliAsync } from './helpers.js';

/* The run's lease seen from the CLI: unlock refuses a live launcher, SIGHUP stops a run as SIGTERM does. */
describe('the run lease from the CLI (unlock, SIGHUP)', function () {
  this.timeout(400_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-lease-cli-'));
    // A chunk per shard, one worker at a time: the run is still going when the test acts.
    await writeParquetRows(new FileStore(join(dir, 'shards')), 'part-000.parquet', Array.from({ length: 4 }, (_, i) => keptYtCommonsRow(0, i)));
    for (let s = 1; s < 200; s++) await copyFile(join(dir, 'shards', 'part-000.parquet'), join(dir, 'shards', `part-${String(s).padStart(3, '0')}.parquet`));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('unlock refuses a live launcher and says how it saw it alive; SIGHUP releases the lease and exits 129 with the resume line', async () => {
    const path = join(dir, 'hup.yaml');
    await writeFile(path, ['name: hup', `storage: ${join(dir, 'store')}`, 'executor: { kind: local, parallelism: 1, retries: 0 }', 'stages:',
      '  - stage: ytcommons', `    params: { source: ${join(dir, 'shards')} }`, '    chunks: 200'].join('\n'));
    const launcher = spawn(process.execPath, [cli, 'run', path, '--run-id', 'hup-1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    launcher.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    launcher.stderr.resume();
    const run = join(dir, 'store', 'runs', 'hup-1');
    const doneDir = join(run, 'ytcommons', 'done');
    for (let i = 0; i < 6000 && !(existsSync(doneDir) && (await readdir(doneDir)).length >= 1); i++) await sleep(50);
    assert.ok(existsSync(join(run, 'lease.json')), 'the launcher holds the lease');

    const refused = await runCliAsync(['unlock', run]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`got a live one \\(host ${hostname()}, pid ${launcher.pid}, .*alive: pid ${launcher.pid} runs on this host and its start time matches\\)`));
    assert.match(refused.stderr, /add --force only if you know it is gone/);
    assert.ok(existsSync(join(run, 'lease.json')), 'the live launcher keeps its lease');

    launcher.kill('SIGHUP');
    const [code] = await once(launcher, 'exit') as [number | null];
    assert.equal(code, 129, stdout);
    assert.match(stdout, /cancelled during stage ytcommons: chunks not finished have no marker; continue with: finevideo resume /);
    assert.equal(existsSync(join(run, 'lease.json')), false, 'the lease is released');
    assert.deepEqual(existsSync(join(run, 'lease-heartbeat')) ? await readdir(join(run, 'lease-heartbeat')) : [], [], 'its heartbeat is removed');
  });

  it('unlock removes the lease of a launcher that is gone, and a live one only with --force', async () => {
    const path = join(dir, 'gone.yaml');
    await writeFile(path, ['name: gone', `storage: ${join(dir, 'store')}`, 'stages:', '  - stage: ytcommons', `    params: { source: ${join(dir, 'shards')} }`].join('\n'));
    const planned = await runCliAsync(['plan', path, '--run-id', 'gone-1']);
    assert.equal(planned.code, 0, planned.stderr);
    const run = join(dir, 'store', 'runs', 'gone-1');
    const store = new FileStore(join(dir, 'store'));
    // This test process is alive on this host: its lease is refused, then forced.
    await store.put('runs/gone-1/lease.json', JSON.stringify({ host: hostname(), pid: process.pid, startedAt: '2026-01-01T00:00:00.000Z', command: 'finevideo run', token: 'ab' }));
    const refused = await runCliAsync(['unlock', run]);
    assert.equal(refused.code, 2, refused.stderr);
    const forced = await runCliAsync(['unlock', run, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`removed the lease of host ${hostname()}, pid ${process.pid}`));
    // Another host, silent for an hour: gone, removed without --force.
    await store.put('runs/gone-1/lease.json', JSON.stringify({ host: 'elsewhere.example', pid: 12, startedAt: new Date(Date.now() - 3_600_000).toISOString(), command: 'finevideo run', token: 'cd' }));
    const gone = await runCliAsync(['unlock', run]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, /removed the lease of host elsewhere\.example, pid 12/);
  });
});
