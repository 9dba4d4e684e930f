import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingBinaryError, resolveBinary, runProcess } from '@finevideo/media';

describe('media process runner', () => {
  it('reports exit code, stderr tail and stdout without a shell', async () => {
    const result = await runProcess(process.execPath, ['-e', 'process.stderr.write("bad thing\\n"); process.stdout.write("out; echo hi"); process.exit(3)'], { captureStdout: true });
    assert.equal(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.match(result.stderrTail, /bad thing/);
    assert.equal(result.stdout, 'out; echo hi');
    assert.ok(result.durationMs > 0);
  });

  it('kills a process that outlives its timeout', async () => {
    const result = await runProcess(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 200 });
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, 'SIGTERM');
  });

  it('cancels on an abort signal', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const result = await runProcess(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { signal: abort.signal });
    assert.equal(result.aborted, true);
    assert.notEqual(result.signal, null);
  });

  it('hands complete stderr lines to a callback', async () => {
    const lines: string[] = [];
    await runProcess(process.execPath, ['-e', 'process.stderr.write("a\\nb"); setTimeout(() => process.stderr.write("c\\nd\\n"), 20)'], { onStderrLine: (l) => lines.push(l) });
    assert.deepEqual(lines, ['a', 'bc', 'd']);
  });
});

describe('media binary resolution', () => {
  it('finds ffmpeg, ffprobe and yt-dlp on this machine', () => {
    for (const tool of ['ffmpeg', 'ffprobe', 'yt-dlp'] as const) assert.match(resolveBinary(tool), new RegExp(`${tool}$`));
  });

  it('prefers the environment variable and rejects a wrong one with install advice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bin-'));
    try {
      const fake = join(dir, 'my-ytdlp');
      await writeFile(fake, '#!/bin/sh\n');
      await chmod(fake, 0o755);
      assert.equal(resolveBinary('yt-dlp', { PATH: '', YTDLP_PATH: fake }), fake);
      assert.throws(() => resolveBinary('yt-dlp', { PATH: '', YTDLP_PATH: join(dir, 'nope') }), (e: Error) =>
        e instanceof MissingBinaryError && /YTDLP_PATH/.test(e.message) && /pip install yt-dlp/.test(e.message));
      assert.throws(() => resolveBinary('ffprobe', { PATH: dir }), /apt-get install ffmpeg/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
