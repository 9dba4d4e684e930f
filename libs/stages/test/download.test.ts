import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mediaLayout } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { buildYtDlpArgs, runProcess, ytDlpPath } from '@finevideo/media';
import { downloadParams, downloadStage, sourceUrl, subtitleSource, type DownloadParams } from '@finevideo/stages/download';
import { SAMPLE_VTT, generateVideo, startVideoServer, type VideoServer } from '@finevideo/testing';
import { mediaItemContext } from './media-context.js';

describe('download stage (real yt-dlp against a loopback video server)', function () {
  this.timeout(120_000);
  let dir: string;
  let server: VideoServer;
  let store: FileStore;
  let params: DownloadParams;
  const ok = 'okVideo0001';
  const noSubs = 'okVideo0002';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'download-'));
    server = await startVideoServer();
    const file = join(dir, 'source.mp4');
    await generateVideo(file, { sections: [{ kind: 'motion', seconds: 4 }], audio: true });
    server.addVideo(ok, file, { subtitles: SAMPLE_VTT });
    server.addVideo(noSubs, file);
    store = new FileStore(join(dir, 'store'));
    params = downloadParams.parse({ sourceUrlTemplate: server.template, retries: 2, retryBaseDelayMs: 10, socketTimeoutSec: 1 });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (id: string, overrides: Partial<DownloadParams> = {}) => {
    const ctx = await mediaItemContext(store, { ...params, ...overrides });
    const outcome = await downloadStage.processItem({ video_id: id }, ctx);
    assert.deepEqual(await readdir(ctx.tmpDir), [], 'temporary files removed');
    await rm(ctx.tmpDir, { recursive: true, force: true });
    return { outcome: Array.isArray(outcome) ? outcome[0]! : outcome as Exclude<typeof outcome, AsyncIterable<unknown>>, ctx };
  };

  it('stores the video, English subtitles and info JSON under media/<id>/', async () => {
    const { outcome, ctx } = await run(ok);
    assert.equal(outcome.status, 'kept');
    const row = outcome.status === 'kept' ? outcome.row : undefined;
    assert.equal(row?.skipped, false);
    assert.equal(row?.has_subtitles, true);
    assert.equal(row?.subtitles_source, 'subtitles', 'the page\'s <track> is an uploaded subtitle track, and yt-dlp\'s info JSON says so');
    assert.ok((row?.bytes ?? 0) > 1000);
    assert.equal(row?.error_class, null);
    const keys = mediaLayout(ok);
    assert.equal((await store.get(keys.video)).length, row?.bytes);
    assert.match((await store.getText(keys.subtitles)) ?? '', /Hello from the test server/);
    assert.match(JSON.parse((await store.getText(keys.info)) ?? '{}').webpage_url, new RegExp(`v=${ok}$`));
    assert.equal(ctx.counters.download_bytes, row?.bytes);
  });

  it('skips a video already in storage without contacting the source', async () => {
    const before = server.pageRequests(ok);
    const { outcome } = await run(ok);
    assert.equal(outcome.status, 'kept');
    assert.equal(outcome.status === 'kept' && outcome.row.skipped, true);
    assert.equal(outcome.status === 'kept' && outcome.row.has_subtitles, true);
    assert.equal(outcome.status === 'kept' && outcome.row.subtitles_source, 'subtitles');
    assert.equal(server.pageRequests(ok), before);
  });

  it('a video without subtitles is kept with has_subtitles false', async () => {
    const { outcome } = await run(noSubs);
    assert.equal(outcome.status === 'kept' && outcome.row.has_subtitles, false);
    assert.equal(outcome.status === 'kept' && outcome.row.subtitles_source, null);
    assert.equal(await store.exists(mediaLayout(noSubs).subtitles), false);
  });

  it('asks yt-dlp for automatic captions where there are no subtitles, and records which it got', async () => {
    // yt-dlp's generic extractor (the loopback page) knows no automatic captions, so this feeds yt-dlp the
    // info JSON an extractor that has them (YouTube's) would give, with the stage's own arguments.
    const id = 'autoCaps001';
    server.addVideo(id, join(dir, 'source.mp4'), { subtitles: SAMPLE_VTT });
    const work = await mkdtemp(join(dir, 'auto-'));
    const info = {
      id, title: 'auto', extractor: 'youtube', extractor_key: 'Youtube', webpage_url: sourceUrl(server.template, id),
      formats: [{ format_id: 'mp4', url: `${server.url}/media/${id}.mp4`, ext: 'mp4', vcodec: 'h264', acodec: 'aac' }],
      subtitles: { de: [{ ext: 'vtt', url: `${server.url}/subs/${id}.en.vtt` }] },
      automatic_captions: { en: [{ ext: 'vtt', url: `${server.url}/subs/${id}.en.vtt` }] },
    };
    await writeFile(join(work, 'in.info.json'), JSON.stringify(info));
    const args = buildYtDlpArgs({ url: 'unused', outDir: join(work, 'out'), format: 'best' });
    const result = await runProcess(ytDlpPath(), [...args.slice(0, -2), '--load-info-json', join(work, 'in.info.json')], { captureStdout: true });
    assert.equal(result.exitCode, 0, result.stderrTail);
    const names = await readdir(join(work, 'out'));
    assert.ok(names.includes('video.en.vtt'), `automatic English captions written: ${names.join(', ')}`);
    const written = await readFile(join(work, 'out', 'video.info.json'), 'utf8');
    assert.equal(subtitleSource(written, true), 'automatic-captions');
    assert.equal(subtitleSource(JSON.stringify({ subtitles: { en: [] }, automatic_captions: { en: [] } }), true), 'subtitles', 'uploaded subtitles win, as yt-dlp picks them');
    assert.equal(subtitleSource('{}', true), 'unknown');
    assert.equal(subtitleSource('not json', true), 'unknown');
    assert.equal(subtitleSource(written, false), null);
  });

  const failures = [
    { id: 'missing4041', behaviour: 404, errorClass: 'unavailable', attempts: 1 },
    { id: 'forbidden03', behaviour: 403, errorClass: 'signin', attempts: 1 },
    { id: 'limited4291', behaviour: 429, errorClass: 'rate_limited', attempts: 3 },
    { id: 'broken50001', behaviour: 500, errorClass: 'network', attempts: 3 },
    { id: 'stalling001', behaviour: 'stall', errorClass: 'network', attempts: 3 },
  ] as const;
  for (const f of failures) {
    it(`HTTP ${f.behaviour} ends as ${f.errorClass} after ${f.attempts} attempt(s), with a failed marker`, async () => {
      server.setBehaviour(f.id, f.behaviour);
      const { outcome, ctx } = await run(f.id);
      assert.equal(outcome.status, 'error');
      assert.ok(outcome.status === 'error' && outcome.reason.startsWith(`download ${f.errorClass}: `), outcome.status === 'error' ? outcome.reason : '');
      assert.equal(outcome.status === 'error' && outcome.row?.error_class, f.errorClass);
      assert.equal(server.pageRequests(f.id), f.attempts, 'requests seen by the server');
      assert.equal(ctx.counters.download_retries ?? 0, f.attempts - 1);
      assert.match((await store.getText(mediaLayout(f.id).failed)) ?? '', new RegExp(`^${f.errorClass}: `));
      assert.equal(await store.exists(mediaLayout(f.id).video), false);
    });
  }

  it('a later success removes the failed marker', async () => {
    const id = 'flaky000001';
    server.setBehaviour(id, 500);
    await run(id, { retries: 0 });
    assert.equal(await store.exists(mediaLayout(id).failed), true);
    server.addVideo(id, join(dir, 'source.mp4'));
    server.setBehaviour(id, 'ok');
    const { outcome } = await run(id);
    assert.equal(outcome.status, 'kept');
    assert.equal(await store.exists(mediaLayout(id).failed), false);
  });

  it('a video over the size limit is too_large and not retried', async () => {
    const id = 'bigVideo001';
    server.addVideo(id, join(dir, 'source.mp4'));
    const { outcome } = await run(id, { maxFileSize: 100 });
    assert.equal(outcome.status === 'error' && outcome.row?.error_class, 'too_large');
    assert.equal(server.pageRequests(id), 1);
  });

  it('rejects an invalid id before any path or command line', async () => {
    const { outcome } = await run('../../etc/passwd');
    assert.equal(outcome.status, 'error');
    assert.match(outcome.status === 'error' ? outcome.reason : '', /^invalid video id/);
    assert.throws(() => sourceUrl(params.sourceUrlTemplate, 'abc;rm -rf'), /video id/);
  });

  describe('through a proxy with credentials (proxyEnv)', () => {
    let proxy: Server;
    let proxyUrl: string;
    const seen: { auth: string | undefined; url: string | undefined }[] = [];
    let refuse = false;
    const saved = { no_proxy: process.env.no_proxy, NO_PROXY: process.env.NO_PROXY };
    before(async () => {
      // A forwarding HTTP proxy on loopback that demands Basic credentials.
      proxy = createServer((req, res) => {
        seen.push({ auth: req.headers['proxy-authorization'], url: req.url });
        if (refuse || req.headers['proxy-authorization'] !== `Basic ${Buffer.from('fv:s3cret-pass').toString('base64')}`) {
          res.writeHead(refuse ? 502 : 407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
          return;
        }
        const { 'proxy-authorization': _credentials, ...headers } = req.headers;
        const upstream = httpRequest(req.url!, { method: req.method, headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      proxyUrl = `http://fv:s3cret-pass@127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      process.env.FV_TEST_PROXY = proxyUrl;
      delete process.env.no_proxy;
      delete process.env.NO_PROXY;
    });
    after(() => {
      proxy?.close();
      delete process.env.FV_TEST_PROXY;
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    });

    it('fetches through the proxy named by proxyEnv, its password never on the command line or in a row', async () => {
      const id = 'viaProxy001';
      server.addVideo(id, join(dir, 'source.mp4'));
      const { outcome } = await run(id, { proxyEnv: 'FV_TEST_PROXY' });
      assert.equal(outcome.status, 'kept');
      assert.ok(seen.some((r) => r.url?.includes(id)), 'the page went through the proxy');
      assert.equal(await store.exists(mediaLayout(id).video), true);
      refuse = true;
      const failing = 'viaProxy002';
      server.addVideo(failing, join(dir, 'source.mp4'));
      const { outcome: failed } = await run(failing, { proxyEnv: 'FV_TEST_PROXY', retries: 0 });
      assert.equal(failed.status, 'error');
      const stored = (await store.getText(mediaLayout(failing).failed)) ?? '';
      assert.ok(stored.length > 0);
      for (const text of [JSON.stringify(failed), stored]) assert.ok(!text.includes('s3cret-pass'), `password leaked into ${text}`);
    });

    it('rejects credentials in proxy (it is recorded in run.json) and names an unset proxyEnv', async () => {
      assert.throws(() => downloadParams.parse({ proxy: 'http://fv:s3cret-pass@proxy:3128' }), /without user:password/);
      assert.equal(downloadParams.parse({ proxy: 'http://proxy:3128' }).proxy, 'http://proxy:3128');
      // A configuration fault, not the video's: the chunk fails with the variable named.
      await assert.rejects(run('noProxyEnv1', { proxyEnv: 'FV_TEST_PROXY_UNSET' }), /environment variable FV_TEST_PROXY_UNSET/);
    });
  });

  it('validates its params', () => {
    assert.equal(downloadParams.parse({}).format, 'best');
    assert.equal(downloadParams.parse({}).sourceUrlTemplate, 'https://www.youtube.com/watch?v={id}');
    assert.throws(() => downloadParams.parse({ sourceUrlTemplate: 'https://example.com/no-placeholder' }));
    assert.throws(() => downloadParams.parse({ sourceUrlTemplate: 'file:///etc/{id}' }));
    assert.throws(() => downloadParams.parse({ formats: 'best' }));
  });
});
