import { ConfigError, SAFE_NAME_PATTERN } from '@finevideo/core';

/** Splits a run reference (".data/demo/runs/<id>" or "s3://bucket/prefix/runs/<id>") into storage root and run id. */
export function parseRunRef(ref: string): { storage: string; runId: string } {
  const m = /^(.*?)\/?runs\/([^/]+)\/?$/.exec(ref);
  if (!m || !SAFE_NAME_PATTERN.test(m[2]!)) {
    throw new ConfigError(`run: expected a path or URI ending in runs/<run-id> (as printed by "finevideo run"), got ${JSON.stringify(ref)}`);
  }
  return { storage: m[1] || '.', runId: m[2]! };
}

export function runRef(storageUri: string, runId: string): string {
  const root = storageUri.startsWith('file://') ? storageUri.slice('file://'.length) : storageUri;
  return `${root.replace(/\/$/, '')}/runs/${runId}`;
}
