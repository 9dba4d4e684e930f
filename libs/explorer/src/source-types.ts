import type { ObjectStore } from '@finevideo/core';
import type { RunManifest } from '@finevideo/runtime';

/**
 * What `finevideo explore` was pointed at: a run (folder or S3), reached directly or through its export.
 * Its own module, so the run index and the backend need not import the code that opens it.
 */
export interface ExplorerSource {
  /** The storage root holding runs/, media/, annotations/, aligned/ and export/. */
  store: ObjectStore;
  runId: string;
  manifest: RunManifest;
  /** How the user named it: "run" (runs/<id>) or "export" (export/<id>). */
  given: 'run' | 'export';
  /** The reference as the user can type it again (credentials never part of it). */
  ref: string;
}
