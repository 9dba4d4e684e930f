import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLayout } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { alive, until } from './processes.js';

describe('local workers and their launcher', function () {
  this.timeout(180_000); // three node processes through tsx and two ffmpegs on a shared machine

  it('a launcher killed with SIGKILL takes its workers and their ffmpeg with it; nothing is marked done', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fv-orphans-'));
    const pids: number[] = [];
    try {
      const launcher = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/orphan-launcher.ts', import.meta.url))], {
        env: { ...process.env, TEST_DIR: dir, TEST_STORE: join(dir, 'store') }, stdio: ['ignore', 'ignore', 'inherit'],
      });
      const pidsOf = async (n: number) => (await readFile(join(dir, `pids-${n}`), 'utf8').catch(() => '')).split(' ').map(Number).filter(Boolean);
      await until('both workers to start their ffmpeg', async () => (await pidsOf(0)).length === 2 && (await pidsOf(1)).length === 2, 150_000);
      pids.push(...(await pidsOf(0)), ...(await pidsOf(1)));
      assert.ok(pids.every(alive), 'workers and ffmpegs run while the launcher does');
      launcher.kill('SIGKILL');
      await once(launcher, 'exit');
      // The workers see their pipe close at once, abort, and kill their process group after a 3 s grace.
      await until(`workers and ffmpegs (pids ${pids.join(', ')}) to exit after their launcher died`, () => !pids.some(alive), 20_000);
      const store = new FileStore(join(dir, 'store'));
      for (const index of [0, 1]) assert.equal(await store.exists(runLayout('run-1').stage('orphan').done(index)), false, `chunk ${index} is not marked done`);
    } finally {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
