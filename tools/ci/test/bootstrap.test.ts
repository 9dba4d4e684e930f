import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// tools/bootstrap.sh decides what a fresh machine is missing. These tests run the real script in a
// scratch checkout whose PATH holds only basic shell utilities plus recording stand-ins for npm,
// apt-get and an old node (no network, no root changes); the Node it bootstraps is this one.
const script = join(import.meta.dirname, '..', '..', 'bootstrap.sh');
const UTILITIES = ['bash', 'sh', 'dirname', 'mkdir', 'id', 'mv', 'chmod', 'uname', 'cat', 'touch', 'ln', 'env', 'sha256sum'];

interface Sandbox { root: string; repo: string; bin: string; nodeHome: string; log: string }
interface Result { status: number | null; stdout: string; stderr: string; calls: string[] }

function sandbox(tools: { oldNode?: boolean; ffmpeg?: boolean; ytdlp?: boolean; aptGet?: boolean } = {}): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'fv-bootstrap-'));
  const repo = join(root, 'repo');
  const bin = join(root, 'bin');
  const log = join(root, 'calls.log');
  mkdirSync(join(repo, 'tools'), { recursive: true });
  mkdirSync(bin);
  copyFileSync(script, join(repo, 'tools', 'bootstrap.sh'));
  writeFileSync(join(repo, 'package-lock.json'), '{}\n');
  for (const name of UTILITIES) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, name)).find((p) => existsSync(p));
    if (found) symlinkSync(found, join(bin, name));
  }
  const fake = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // npm: `install node@22` puts this Node into the prefix (as the registry's node package does); `ci` writes npm's hidden lock file.
  fake('npm', [
    'case "$*" in',
    `  *node@22*) mkdir -p node_modules/node/bin && ln -sf ${process.execPath} node_modules/node/bin/node ;;`,
    '  ci*) mkdir -p node_modules && touch node_modules/.package-lock.json ;;',
    '  --version) echo 10.0.0 ;;',
    'esac',
  ].join('\n'));
  if (tools.oldNode !== false) fake('node', '[ "$1" = --version ] && echo v20.0.0 && exit 0\nexit 1');
  else symlinkSync(process.execPath, join(bin, 'node'));
  // apt-get install puts the package's commands on PATH (ffmpeg ships ffprobe); sudo runs its command (tests may run as non-root).
  const provide = (pkg: string, commands: string[]) => `case "$*" in *install*${pkg}*) for t in ${commands.join(' ')}; do printf '#!/bin/sh\\n' > ${bin}/$t; chmod +x ${bin}/$t; done ;; esac`;
  if (tools.ffmpeg !== false) { fake('ffmpeg', ''); fake('ffprobe', ''); }
  if (tools.ytdlp !== false) fake('yt-dlp', '');
  if (tools.aptGet) {
    fake('apt-get', [provide('ffmpeg', ['ffmpeg', 'ffprobe']), provide('yt-dlp', ['yt-dlp'])].join('\n'));
    fake('sudo', 'exec "$@"');
  }
  return { root, repo, bin, nodeHome: join(root, 'node-home'), log };
}

function bootstrap(box: Sandbox, ...args: string[]): Result {
  if (existsSync(box.log)) rmSync(box.log);
  const r = spawnSync(join(box.bin, 'bash'), [join(box.repo, 'tools', 'bootstrap.sh'), ...args], {
    encoding: 'utf8', env: { PATH: box.bin, HOME: box.root, FINEVIDEO_NODE_HOME: box.nodeHome },
  });
  const calls = existsSync(box.log) ? readFileSync(box.log, 'utf8').trim().split('\n').filter(Boolean) : [];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
}

describe('tools/bootstrap.sh (what a fresh machine is missing)', function () {
  this.timeout(60_000);
  const boxes: Sandbox[] = [];
  const make = (tools?: Parameters<typeof sandbox>[0]) => { const b = sandbox(tools); boxes.push(b); return b; };
  after(() => { for (const b of boxes) rmSync(b.root, { recursive: true, force: true }); });

  it('an older Node: installs node@22 from the npm registry once, then runs with it', () => {
    const box = make();
    const first = bootstrap(box, 'exec', 'node', '--version');
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), process.version);
    assert.ok(first.calls.some((c) => /^npm install .*node@22/.test(c)), first.calls.join('\n'));
    assert.match(first.stderr, /older than 22\.19: installing node@22/);
    const second = bootstrap(box, 'exec', 'node', '--version');
    assert.equal(second.status, 0, second.stderr);
    assert.ok(!second.calls.some((c) => c.includes('node@22')), 'the bootstrapped Node is reused');
    assert.match(second.stderr, new RegExp(`using Node ${process.version} from .*node-home \\(the machine's: v20\\.0\\.0\\)`));
  });

  it('a recent Node is used as it is', () => {
    const box = make({ oldNode: false });
    const r = bootstrap(box, 'exec', 'node', '--version');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.calls.some((c) => c.includes('node@22')));
    assert.ok(!existsSync(box.nodeHome));
  });

  it('npm ci when node_modules is missing or older than package-lock.json, not otherwise', () => {
    const box = make({ oldNode: false });
    assert.ok(bootstrap(box).calls.includes('npm ci --no-audit --no-fund --loglevel=error'), 'missing node_modules');
    assert.ok(!bootstrap(box).calls.some((c) => c.startsWith('npm ci')), 'up to date');
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(box.repo, 'package-lock.json'), later, later);
    assert.ok(bootstrap(box).calls.some((c) => c.startsWith('npm ci')), 'package-lock.json changed since');
  });

  it('missing ffmpeg and yt-dlp: apt-get installs them, then they are checked on PATH', () => {
    const box = make({ oldNode: false, ffmpeg: false, ytdlp: false, aptGet: true });
    const r = bootstrap(box);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.calls.includes('apt-get update -qq'), r.calls.join('\n'));
    assert.ok(r.calls.includes('apt-get install -y -qq --no-install-recommends ffmpeg yt-dlp'), r.calls.join('\n'));
    assert.ok(!bootstrap(box).calls.some((c) => c.startsWith('apt-get')), 'installed tools are not installed again');
  });

  it('missing yt-dlp without apt-get: exit 2 with a sentence naming it', () => {
    const box = make({ oldNode: false, ytdlp: false });
    const r = bootstrap(box);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing yt-dlp: install them with your system's package manager/);
  });

  it('an unknown command: exit 2, naming it and the valid ones', () => {
    const r = bootstrap(make({ oldNode: false }), 'dmeo');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "dmeo": expected demo, test, install-test or exec/);
  });
});
