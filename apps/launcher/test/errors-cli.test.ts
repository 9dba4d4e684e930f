import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, runDuckDb, writeParquetRows } from '@finevideo/storage';
import { keptYtCommonsRow, runCli } from './helpers.js';


describe('finevideo CLI: what a user sees when things go wrong', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-errors-cli-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const pipeline = async (name: string, source: string, extra = '') => {
    const path = join(dir, `${name}.yaml`);
    await writeFile(path, [
      `name: ${name}`, `storage: ${join(dir, 'store')}`, 'executor: { kind: local, parallelism: 2, retries: 0 }', 'stages:',
      '  - stage: ytcommons', `    params: { source: ${source} }`, '    chunks: 1', ...(extra ? [extra] : []),
      '  - stage: worddensity', '    params: { threshold: 0.5 }',
    ].join('\n'));
    return path;
  };

  it('--until with an unknown stage is a config error (exit 2) naming the valid stages; nothing is created', async () => {
    const r = runCli(['run', await pipeline('until', join(dir, 'nowhere')), '--run-id', 'until-1', '--until', 'nosuch']);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /--until: expected one of the stage names ytcommons, worddensity, got "nosuch"/);
    assert.equal(existsSync(join(dir, 'store', 'runs', 'until-1')), false, 'no run is created');
  });

  it('a first stage with no input is a config error (exit 2) unless the config says allowEmptyInput', async () => {
    await mkdir(join(dir, 'empty'), { recursive: true });
    const r = runCli(['run', await pipeline('empty', join(dir, 'empty')), '--run-id', 'empty-1']);
    assert.equal(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stderr, /stage ytcommons: expected input items, got 0 \(listed from source: ".*empty"/);
    assert.match(r.stderr, /allowEmptyInput: true/);
    const allowed = runCli(['run', await pipeline('allowed', join(dir, 'empty'), '    allowEmptyInput: true'), '--run-id', 'allowed-1', '--until', 'ytcommons']);
    assert.equal(allowed.code, 0, allowed.stderr + allowed.stdout);
  });

  describe('a stage whose error rows pass errorPolicy.maxStageShare', () => {
    const runDir = () => join(dir, 'store', 'runs', 'share-1');
    let run: ReturnType<typeof runCli>;
    before(async () => {
      const shards = new FileStore(join(dir, 'shards'));
      await writeParquetRows(shards, 'part-0.parquet', Array.from({ length: 30 }, (_, i) => keptYtCommonsRow(0, i)));
      await writeFile(join(dir, 'shards', 'part-1-corrupt.parquet'), 'PAR1 not a parquet file');
      await writeFile(join(dir, 'shards', 'part-2-corrupt.parquet'), 'PAR1 not a parquet file either');
      run = runCli(['run', await pipeline('share', join(dir, 'shards')), '--run-id', 'share-1', '--until', 'ytcommons']);
    });

    it('exits 1 with a sentence saying so, lists error rows by reason, and names the table and how to read only kept rows', async () => {
      assert.equal(run.code, 1, run.stderr + run.stdout);
      assert.match(run.stdout, /error rows by reason:\n {2}ytcommons: 2 error row\(s\), 66\.7% of 3 items: \S+=2/);
      assert.match(run.stdout, /stage ytcommons: 66\.7% of its 3 items ended as error rows, more than its errorPolicy\.maxStageShare of 20%, so the run counts as failed/);
      assert.match(run.stdout, /finevideo resume .*share-1 --retry-errors "unreadable-shard"\n/, 'a verdict a retry repeats is named in the printed command');
      assert.match(run.stdout, /output table: .*runs\/share-1\/ytcommons\/table\.json/);
      const command = /read only kept rows: duckdb -c "(.+)"$/m.exec(run.stdout);
      assert.ok(command, `expected a DuckDB one-liner, got:\n${run.stdout}`);
      assert.match(command[1]!, /WHERE status = 'kept'$/);
      // The printed query, run as it is, gives exactly the kept rows.
      const rows = await runDuckDb(`SELECT count(*) AS n, count(DISTINCT status) AS statuses FROM (${command[1]!})`);
      assert.deepEqual(rows, [{ n: 30, statuses: 1 }]);
    });

    it('status --json is an object {run, runId, complete, stages} agreeing with the summary', () => {
      const st = runCli(['status', runDir(), '--json']);
      assert.equal(st.code, 0, st.stderr);
      const status = JSON.parse(st.stdout) as { run: string; runId: string; complete: boolean; stages: { stage: string; sealed: boolean; done: number; failed: number; stats: { errors: number; items: number }; errorShareExceeded: boolean }[] };
      assert.equal(status.runId, 'share-1');
      assert.match(status.run, /runs\/share-1$/);
      assert.equal(status.complete, false, 'worddensity is not planned (the run stopped --until ytcommons)');
      assert.deepEqual(status.stages.map((s) => [s.stage, s.sealed, s.done, s.failed, s.stats.items, s.stats.errors]), [['ytcommons', true, 1, 0, 3, 2], ['worddensity', false, 0, 0, 0, 0]]);
      assert.deepEqual(status.stages.map((s) => s.errorShareExceeded), [true, false]);
      const text = runCli(['status', runDir()]);
      assert.match(text.stdout, /: incomplete\n/);
      assert.match(text.stdout, /error rows by reason:\n {2}ytcommons: 2 error row\(s\)/);
      assert.match(text.stdout, /stage ytcommons: 66\.7% of its 3 items ended as error rows, more than its errorPolicy\.maxStageShare of 20%/, 'status gives the summary\'s verdict');
    });

    it('resume --retry-errors leaves an unreadable shard alone (a retry repeats it) and says how to name it; named, it runs again (still corrupt): the same rows, no duplicates', () => {
      const plain = runCli(['resume', runDir(), '--retry-errors', '--until', 'ytcommons']);
      assert.equal(plain.code, 1, plain.stderr + plain.stdout);
      assert.match(plain.stderr, /retry-errors: 2 error row\(s\) kept as they are \(unreadable-shard: 2\): a retry would repeat their verdict; to run them again anyway: --retry-errors "unreadable-shard" \(or all\)/);
      assert.match(plain.stderr, /retry-errors: no error rows of a reason a retry can change \(connection, server error, rate limit, timeout, bad response, storage\) that can be run again; resuming as usual/);
      const r = runCli(['resume', runDir(), '--retry-errors', 'unreadable-shard', '--until', 'ytcommons']);
      assert.equal(r.code, 1, r.stderr + r.stdout);
      assert.match(r.stderr, /retry-errors: stage ytcommons: 2 item\(s\) with error rows matching "unreadable-shard" in 1 chunk\(s\) run again; the other rows of those chunks are kept/);
      assert.match(r.stderr, /retry-errors: no paid stage \(classify, annotate\) runs again/);
      assert.match(r.stdout, /ytcommons: 2 error row\(s\), 66\.7% of 3 items/);
      const st = JSON.parse(runCli(['status', runDir(), '--json']).stdout) as { stages: { stats: { items: number; kept: number; errors: number } }[] };
      assert.deepEqual(st.stages[0]!.stats, { ...st.stages[0]!.stats, items: 3, kept: 30, errors: 2 });
      const none = runCli(['resume', runDir(), '--retry-errors', 'no such reason', '--until', 'ytcommons']);
      assert.match(none.stderr, /retry-errors: no error rows matching "no such reason" that can be run again; resuming as usual/);
    });

    it('status --verify checks every part each marker lists: exit 0, then exit 1 naming a missing part', async () => {
      const ok = runCli(['status', runDir(), '--verify']);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, /verify: every part listed by the 1 chunk marker\(s\) exists/);
      const part = join(runDir(), 'ytcommons', 'out', '000000-0000.parquet');
      assert.ok(existsSync(part));
      await rm(part);
      const bad = runCli(['status', runDir(), '--verify']);
      assert.equal(bad.code, 1, bad.stderr + bad.stdout);
      assert.match(bad.stdout, /verify: 1 part\(s\) listed by markers are missing:\n {2}runs\/share-1\/ytcommons\/out\/000000-0000\.parquet/);
    });
  });
});
