import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseExportManifest } from '@finevideo/stages/export-card';
import { runDuckDb, sqlString } from '@finevideo/storage';
import { startFakeHub } from '@finevideo/testing';
import { runCliAsync } from './helpers.js';
import { manifestContent, repoContent } from './publish-fixture.js';

describe('finevideo demo (the README\'s first command, after the bootstrap)', function () {
  this.timeout(600_000);

  it('runs the whole built pipeline on generated data and ends as `finevideo run` does (funnel, error rows, the baseline note, the kept-rows query, exit 0) and says what the result is', async () => {
    const r = await runCliAsync(['demo']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const stage of ['ytcommons', 'worddensity', 'download', 'dynamism', 'classify', 'select']) assert.match(r.stdout, new RegExp(`^${stage}\\s+\\d+\\s+\\d+`, 'm'), `funnel row of ${stage}`);
    // The sample's deliberately unreadable shard is an error row, within the demo's errorPolicy.
    assert.match(r.stdout, /ytcommons: 1 error row\(s\), 25% of 4 items: unreadable-shard=1/);
    assert.match(r.stdout, /note: classify used the lexical baseline, not a model, for \d+ videos/);
    assert.match(r.stdout, /^annotate\s+\d+\s+\d+/m, 'funnel row of annotate');
    assert.match(r.stdout, /note: annotate used the baseline annotator, not a model, for \d+ videos/);
    for (const stage of ['align', 'anomaly']) assert.match(r.stdout, new RegExp(`^${stage}\\s+\\d+\\s+[1-9]\\d*\\s`, 'm'), `funnel row of ${stage} with kept rows`);
    const table = /^output table: (\S+table\.json)/m.exec(r.stdout)?.[1];
    assert.ok(table && existsSync(table), `expected the select table on disk, got:\n${r.stdout}`);
    assert.match(r.stdout, /read only kept rows: duckdb -c ".+WHERE status = 'kept'"/);
    // What the result is, in words: the selection (select's report), and that later stages are planned.
    const result = /^result: (\d+) videos selected for the dataset, [\d.]+ of the 0\.5 target hours \(.+\); report: (\S+report\.json)$/m.exec(r.stdout);
    assert.ok(result, `expected the selection in words, got:\n${r.stdout}`);
    assert.ok(Number(result[1]) > 0 && existsSync(result[2]!));
    // The dataset: export's shards and export-card's card, where they are and how to load them.
    assert.match(r.stdout, /^export\s+\d+\s+[1-9]\d*\s/m, 'funnel row of export with kept rows');
    const dataset = /^dataset: (\S+) \(/m.exec(r.stdout)?.[1];
    assert.ok(dataset && existsSync(join(dataset, 'README.md')) && existsSync(join(dataset, 'index.parquet')) && existsSync(join(dataset, 'export.json')) && existsSync(join(dataset, 'data')), `expected the exported dataset, got:\n${r.stdout}`);
    assert.match(r.stdout, /datasets\.load_dataset\("parquet", data_dir=".+\/data", split="train"\)/);
    assert.match(r.stdout, /duckdb -c "SELECT category, .+index\.parquet/);
    // The export is whole and publishable: the CLI uploads exactly its manifest's files (to the fake Hub).
    const hub = await startFakeHub({ token: 'hf_demo_token' });
    try {
      const published = await runCliAsync(['publish', dataset, '--repo', 'me/demo-set'], { HF_TOKEN: 'hf_demo_token', HF_ENDPOINT: hub.url });
      assert.equal(published.code, 0, published.stdout + published.stderr);
      assert.match(published.stdout, /\(private, new repo\)/);
      const manifest = parseExportManifest(await readFile(join(dataset, 'export.json'), 'utf8'), dataset);
      assert.deepEqual(repoContent(hub.repos.get('dataset:me/demo-set')!), manifestContent(manifest));
    } finally {
      await hub.close();
    }

    // A dataset that looks like one: several scenes (shots cut and detected) and a timecoded transcript (the
    // videos' English subtitles, downloaded by yt-dlp) in most rows; the duration anomaly rule is on.
    const [shown] = await runDuckDb(`SELECT count(*) AS rows, count(*) FILTER (WHERE len(json.content_metadata.scenes) >= 2) AS scened,
      count(*) FILTER (WHERE len(json.timecoded_text_to_speech) >= 2) AS transcribed,
      count(*) FILTER (WHERE json.content_metadata.storylines.climax.timestamp = '') AS empty_climax FROM read_parquet(${sqlString(join(dataset, 'data', '**', '*.parquet'))})`);
    const [rows, scened, transcribed] = [Number(shown!.rows), Number(shown!.scened), Number(shown!.transcribed)];
    assert.ok(rows > 0 && scened > rows / 2 && transcribed > rows / 2, `rows ${rows}, with several scenes ${scened}, with a timecoded transcript ${transcribed}`);
    assert.equal(Number(shown!.empty_climax), 0, 'a time the annotation does not name is null, never ""');
    const run = /^run: (\S+)$/m.exec(r.stdout)?.[1];
    const anomalies = JSON.parse(readFileSync(join(run!, 'anomaly', 'artifacts', 'anomalies.json'), 'utf8')) as { rules: Record<string, { enabled: boolean; skipped: number; violations: number }> };
    assert.deepEqual([anomalies.rules.duration!.enabled, anomalies.rules.duration!.skipped, anomalies.rules.duration!.violations], [true, 0, 0], 'duration rule on and passed: files as long as their metadata');
  });
});
