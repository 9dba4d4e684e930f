import { openStore } from '@finevideo/storage';
import { breakRunLease, describeHolder, leaseKey, readRunManifest, storageEnv } from '@finevideo/runtime';
import { parseRunRef, runRef } from './run-ref.js';
import type { CommandResult } from './commands.js';

/**
 * Removes a run's lease (runs/<run>/lease.json) whoever holds it: for a launcher that is gone
 * (its machine died, or it ran elsewhere). A launcher still running keeps running; make sure it is not.
 */
export async function unlockCommand(ref: string, options: { json?: boolean } = {}): Promise<CommandResult> {
  const { storage, runId } = parseRunRef(ref);
  const manifest = await readRunManifest(openStore(storage), runId);
  // The run's S3 settings, as for every other command that opens a run.
  Object.assign(process.env, storageEnv(manifest.config));
  const store = openStore(storage, manifest.config.s3);
  const holder = await breakRunLease(store, runId);
  const where = runRef(store.uri, runId);
  if (options.json) return { exitCode: 0, output: JSON.stringify({ run: where, removed: holder ?? null, lease: leaseKey(runId) }, null, 2) };
  return { exitCode: 0, output: holder ? `run ${where}: removed the lease of ${describeHolder(holder)}` : `run ${where}: no lease to remove` };
}
