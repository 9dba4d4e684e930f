import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { MissingBinaryError, resolveBinary, runProcess, toolEnv } from '@finevideo/media';
import { setEnv } from '@finevideo/testing';

const SECRETS = { AWS_SECRET_ACCESS_KEY: 'aws-secret-value', AWS_ACCESS_KEY_ID: 'AKIAFAKE', FINEVIDEO_LLM_API_KEY: 'llm-key-value', OPENAI_API_KEY: 'sk-fake' };

/** A fake media tool: a shell script that writes its environment to a file and fails. */
async function envPrintingTool(dir: string, name: string): Promise<{ path: string; envFile: string }> {
  const path = join(dir, name);
  const envFile = join(dir, `${name}.env`);
  await writeFile(path, `#!/bin/sh\nenv > '${envFile}'\nenv\nexit 1\n`);
  await chmod(path, 0o755);
  return { path, envFile };
}

function envNames(text: string): Set<string> {
  return new Set(text.split('\n').map((line) => line.split('=')[0]!).filter(Boolean));
}

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

describe('media tool environment', () => {
  let dir: string;
  let restoreEnv: () => void = () => undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'toolenv-'));
    restoreEnv = setEnv({ ...SECRETS, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', HTTPS_PROXY: 'http://proxy.internal:3128' });
  });
  after(async () => {
    restoreEnv();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps PATH, HOME, locale and proxies, and drops S3 and LLM keys', () => {
    const env = toolEnv({ HTTP_PROXY: 'http://from-proxyenv:1' });
    for (const name of Object.keys(SECRETS)) assert.equal(env[name], undefined, name);
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.LANG, 'C.UTF-8');
    assert.equal(env.LC_ALL, 'C.UTF-8');
    assert.equal(env.HTTPS_PROXY, 'http://proxy.internal:3128');
    assert.equal(env.HTTP_PROXY, 'http://from-proxyenv:1');
  });

  it('a tool started by runProcess sees the minimal environment only', async () => {
    const tool = await envPrintingTool(dir, 'fake-tool');
    const result = await runProcess(tool.path, [], { captureStdout: true, env: { HTTPS_PROXY: 'http://u:p@proxy-from-env:8080' } });
    const names = envNames(result.stdout);
    for (const name of Object.keys(SECRETS)) assert.ok(!names.has(name), `${name} reached the tool`);
    for (const value of Object.values(SECRETS)) assert.doesNotMatch(result.stdout, new RegExp(value));
    for (const name of ['PATH', 'HOME', 'LANG', 'LC_ALL']) assert.ok(names.has(name), `${name} is missing`);
    assert.match(result.stdout, /^HTTPS_PROXY=http:\/\/u:p@proxy-from-env:8080$/m);
  });

  it('yt-dlp, ffprobe and ffmpeg started by the media library do not get the keys', async () => {
    // A fresh process, so the binaries resolve from these variables and not from this process's cache.
    const ytdlp = await envPrintingTool(dir, 'yt-dlp');
    const ffprobe = await envPrintingTool(dir, 'ffprobe');
    const ffmpeg = await envPrintingTool(dir, 'ffmpeg');
    const media = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'index.ts');
    const script = `const m = await import(${JSON.stringify(media)});
      await m.runYtDlp({ url: 'https://example.invalid/v', outDir: ${JSON.stringify(dir)}, format: 'best', secretProxy: 'http://fv:pw@127.0.0.1:9' });
      await m.probe(${JSON.stringify(join(dir, 'none.mp4'))}).catch(() => undefined);
      console.log(m.ffmpegPath());
      await m.detectFrozenSegments(${JSON.stringify(join(dir, 'none.mp4'))}, 120).catch(() => undefined);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, YTDLP_PATH: ytdlp.path, FFPROBE_PATH: ffprobe.path, FFMPEG_PATH: ffmpeg.path }, encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const tools = [ytdlp, ffprobe, ...(r.stdout.trim() === ffmpeg.path ? [ffmpeg] : [])];
    if (tools.length < 3) console.log(`      (ffmpeg resolves to ${r.stdout.trim()} (ffmpeg-static), not the fake: its environment is checked through runProcess above)`);
    for (const tool of tools) {
      const env = await readFile(tool.envFile, 'utf8');
      const names = envNames(env);
      for (const name of Object.keys(SECRETS)) assert.ok(!names.has(name), `${name} reached ${tool.path}`);
      assert.ok(names.has('PATH') && names.has('HOME'), `${tool.path} lacks PATH or HOME`);
    }
    // The proxy named by proxyEnv reaches yt-dlp, in its environment only.
    assert.match(await readFile(ytdlp.envFile, 'utf8'), /^HTTPS_PROXY=http:\/\/fv:pw@127\.0\.0\.1:9$/m);
  });
});
