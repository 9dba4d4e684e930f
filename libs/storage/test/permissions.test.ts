import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What a FileStore does in a folder it may not write: run in a child process of an unprivileged user
 * when the tests run as root (root passes every permission check), as this user otherwise.
 */
async function tryWrites(root: string, scratch: string): Promise<{ put: Record<string, unknown>; list: Record<string, unknown> }> {
  const script = `
    import { FileStore } from '@finevideo/storage';
    const store = new FileStore(${JSON.stringify(root)});
    const seen = async (fn) => { try { await fn(); return { ok: true }; } catch (e) { return { name: e.name, errorClass: e.errorClass, retryable: e.retryable, message: e.message }; } };
    const put = await seen(() => store.put('runs/r1/stage/done/000000.json', '{}'));
    const list = await seen(async () => { for await (const _ of store.list('locked/')) { /* nothing */ } });
    process.stdout.write(JSON.stringify({ put, list }));
  `;
  const asRoot = process.getuid?.() === 0;
  const unprivileged = asRoot ? { uid: 65534, gid: 65534 } : {};
  // The unprivileged user may not reach this node binary (say, under /root): it gets a link (or copy) of its own.
  let node = process.execPath;
  if (asRoot) {
    node = join(scratch, 'node');
    await link(process.execPath, node).catch(() => copyFile(process.execPath, node));
    await chmod(node, 0o755);
  }
  const cwd = fileURLToPath(new URL('../../..', import.meta.url));
  const r = spawnSync(node, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd, encoding: 'utf8', env: { ...process.env, HOME: tmpdir() }, ...unprivileged });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { put: Record<string, unknown>; list: Record<string, unknown> };
}

describe('FileStore in a folder it may not write or read', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-perm-'));
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'store', 'runs'), { recursive: true });
    await mkdir(join(dir, 'store', 'locked'));
    await writeFile(join(dir, 'store', 'locked', 'a.json'), '{}');
    await chmod(join(dir, 'store'), 0o555);
    await chmod(join(dir, 'store', 'runs'), 0o555);
    await chmod(join(dir, 'store', 'locked'), 0o000);
  });
  after(async () => {
    await chmod(join(dir, 'store', 'locked'), 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('EACCES is a permanent storage error naming the path: not retryable, not "storage unreachable"', async () => {
    const { put, list } = await tryWrites(join(dir, 'store'), dir);
    assert.equal(put.name, 'SystemicError', JSON.stringify(put));
    assert.equal(put.errorClass, 'storage permission denied');
    assert.equal(put.retryable, false);
    assert.match(String(put.message), new RegExp(`^storage permission denied: cannot write ${join(dir, 'store', 'runs')}\\S* \\(EACCES\\); give this user access to the folder`));
    assert.equal(list.errorClass, 'storage permission denied', JSON.stringify(list));
    assert.match(String(list.message), new RegExp(`cannot list ${join(dir, 'store', 'locked')} \\(EACCES\\)`));
  });
});
