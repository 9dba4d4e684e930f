import assert from 'node:assert/strict';
import { csvField } from '../src/video-list.js';
import { raw } from './http.js';
import { VIDEO_IDS, serveFixtureForSuite } from './fixture.js';

describe('explorer list API: neighbours, ids and CSV of a filter (a generated run)', function () {
  this.timeout(80_000);
  const server = serveFixtureForSuite('explore-api-curation-');

  it('GET /api/ids.txt streams every id of the filter in the table\'s order, one a line, as an attachment', async () => {
    const query = 'status=dropped&sort=duration&dir=desc';
    const ids = await raw(server().url, `/api/ids.txt?${query}`);
    assert.equal(ids.status, 200);
    assert.match(String(ids.headers['content-disposition']), /^attachment; filename="ids.txt"$/);
    const listed = ids.body.toString('utf8').trimEnd().split('\n');
    const table: string[] = [];
    for (let page = 1; ; page++) {
      const r = JSON.parse((await raw(server().url, `/api/videos?${query}&pageSize=50&page=${page}`)).body.toString('utf8')) as { total: number; rows: { video_id: string }[] };
      table.push(...r.rows.map((row) => row.video_id));
      if (table.length >= r.total) break;
    }
    assert.ok(table.length > 50, `${table.length} dropped videos: more than a page`);
    assert.deepEqual(listed, table);
  });

  it('GET /api/videos/:id/neighbours: the place in the filtered list, nulls outside it, 400 for a bad id or filter', async () => {
    const place = JSON.parse((await raw(server().url, `/api/videos/${VIDEO_IDS[1]}/neighbours?q=real+video&sort=title`)).body.toString('utf8')) as unknown;
    assert.deepEqual(place, { position: 2, total: 3, previous: VIDEO_IDS[0], next: VIDEO_IDS[2] });
    const outside = JSON.parse((await raw(server().url, `/api/videos/${VIDEO_IDS[1]}/neighbours?q=apple`)).body.toString('utf8')) as unknown;
    assert.deepEqual(outside, { position: null, total: null, previous: null, next: null });
    const badId = await raw(server().url, '/api/videos/..%2F..%2Fetc/neighbours');
    assert.equal(badId.status, 400);
    const badStage = await raw(server().url, `/api/videos/${VIDEO_IDS[0]}/neighbours?stage=nope`);
    assert.equal(badStage.status, 400);
    assert.match(badStage.body.toString('utf8'), /stage: expected one of ytcommons, .*got \\"nope\\"/);
    assert.equal((await raw(server().url, '/api/videos.csv?sort=DROP')).status, 400);
  });

  it('CSV fields: quotes, commas and newlines quoted; an uploader\'s formula is not run by a spreadsheet', () => {
    assert.equal(csvField('a "quoted", title'), '"a ""quoted"", title"');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"');
    assert.equal(csvField('-1 trick'), "'-1 trick");
    assert.equal(csvField(-1), '-1');
    assert.equal(csvField(null), '');
  });
});
