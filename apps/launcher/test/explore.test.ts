import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFixture, RUN_ID } from '../../../libs/explorer/test/fixture.js';
import { cli, root, runCliAsync } from './helpers.js';

/** Starts `finevideo explore` and resolves with the URL it prints on stdout, plus a way to stop it with Ctrl-C. */
function startExplore(args: string[]) {
  const child = spawn(process.execPath, [cli, 'explore', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /^(http:\/\/\S+)$/m.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`explore exited with ${code} before printing its URL:\n${stdout}\n${stderr}`)));
  });
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

describe('finevideo explore (the CLI)', function () {
  this.timeout(85_000);
  let dir: string;

  before(async function () {
    // The first CLI start after a source change compiles the launcher (tools/build/cache.mjs): paid here, not by a test.
    this.timeout(240_000);
    dir = await mkdtemp(join(tmpdir(), 'explore-cli-'));
    await makeFixture(join(dir, 'store'));
    const help = await runCliAsync(['explore', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--host <address>/);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('given the export folder of a run, serves that run at the port asked (0: any), prints its URL, warns when --host is not loopback, and exits 0 on Ctrl-C', async () => {
    const run = startExplore([join(dir, 'store', 'export', RUN_ID), '--port', '0', '--host', '0.0.0.0']);
    try {
      const url = await run.url;
      const api = (await (await fetch(`${url}api/run`)).json()) as { runId: string; given: string };
      assert.deepEqual([api.runId, api.given], [RUN_ID, 'export']);
      assert.equal((await fetch(url)).status, 200);
      assert.match(run.output().stderr, /warning: listening on 0\.0\.0\.0, not loopback/);
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0);
  });

  it('a path that is no run, or a bad port, exits 2 naming what was expected', async () => {
    const bad = await runCliAsync(['explore', dir]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /explore: expected a run folder or URI ending in runs\/<run-id>/);
    const port = await runCliAsync(['explore', join(dir, 'store', 'runs', RUN_ID), '--port', '70000']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /port: expected an integer from 0 to 65535, got "70000"/);
  });
});
