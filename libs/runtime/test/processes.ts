import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process of this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it holds; fails the test naming what it waited for after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  for (const start = Date.now(); Date.now() - start < ms; ) {
    if (await check()) return;
    await sleep(25);
  }
  assert.fail(`gave up waiting ${ms / 1000} s for ${what}`);
}
