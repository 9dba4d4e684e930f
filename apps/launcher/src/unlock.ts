import { ConfigError } from '@finevideo/core';
import type { S3Flags } from '@finevideo/storage';
import { breakRunLease, describeHolder, holderLiveness, leaseKey, parseHolder } from '@finevideo/runtime';
import { runRef } from './run-ref.js';
import { openRun, type CommandResult } from './commands.js';

/**
 * Removes a run's lease (runs/<run>/lease.json) left by a launcher that is gone. A holder that is
 * alive (same host: its pid runs with its start time; another host: a fresh heartbeat) is refused
 * unless `force`, saying how it was seen alive: removing its lease would let a second launcher run beside it.
 */
export async function unlockCommand(ref: string, options: { json?: boolean; force?: boolean } & S3Flags = {}): Promise<CommandResult> {
  const { store, manifest } = await openRun(ref, options);
  const runId = manifest.runId;
  const where = runRef(store.uri, runId);
  const current = parseHolder(await store.getText(leaseKey(runId)));
  if (current && !options.force) {
    const liveness = await holderLiveness(store, runId, current);
    if (liveness.alive) {
      throw new ConfigError(
        `run ${where}: expected a lease whose launcher is gone, got a live one (${describeHolder(current)}; alive: ${liveness.why}); ` +
        'stop that launcher (Ctrl-C, or kill its pid) and it releases the lease itself; add --force only if you know it is gone',
      );
    }
  }
  const holder = await breakRunLease(store, runId);
  if (options.json) return { exitCode: 0, output: JSON.stringify({ run: where, removed: holder ?? null, lease: leaseKey(runId) }, null, 2) };
  return { exitCode: 0, output: holder ? `run ${where}: removed the lease of ${describeHolder(holder)}` : `run ${where}: no lease to remove` };
}
