import { breakRunLease, describeHolder, leaseKey } from '@finevideo/runtime';
import { runRef } from './run-ref.js';
import { openRun, type CommandResult } from './commands.js';

/**
 * Removes a run's lease (runs/<run>/lease.json) whoever holds it: for a launcher that is gone
 * (its machine died, or it ran elsewhere). A launcher still running keeps running; make sure it is not.
 */
export async function unlockCommand(ref: string, options: { json?: boolean } = {}): Promise<CommandResult> {
  const { store, manifest } = await openRun(ref);
  const runId = manifest.runId;
  const holder = await breakRunLease(store, runId);
  const where = runRef(store.uri, runId);
  if (options.json) return { exitCode: 0, output: JSON.stringify({ run: where, removed: holder ?? null, lease: leaseKey(runId) }, null, 2) };
  return { exitCode: 0, output: holder ? `run ${where}: removed the lease of ${describeHolder(holder)}` : `run ${where}: no lease to remove` };
}
