import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, runLayout, type Logger, type ObjectStore } from '@finevideo/core';
import { pidAlive } from './pid-alive.js';

/** Who runs a run now: the content of runs/<run>/lease.json. */
export interface LeaseHolder {
  host: string;
  pid: number;
  startedAt: string;
  command: string;
  /** Tells this launcher's lease from a later one (release removes only its own). */
  token: string;
  /** This take-over of the run (see claimEpoch): its workers commit only while the lease carries it. */
  epoch: number;
}

/** Another launcher holds the run (a usage error: exit 2, nothing was run). */
export class LeaseHeldError extends ConfigError {
  override name = 'LeaseHeldError';
  constructor(message: string, readonly holder: LeaseHolder | undefined) {
    super(message);
  }
}

export interface RunLease {
  readonly key: string;
  readonly holder: LeaseHolder;
  /** Removes the lease if it is still this launcher's. Safe to call twice. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** What the holder runs, shown to a refused launcher (default: this process's arguments). */
  command?: string;
  /** Take the run even if another launcher holds it (the user says that one is gone). */
  breakLease?: boolean;
  /** The run as the user names it, for "finevideo unlock <run>" (default: <storage>/runs/<id>). */
  runRef?: string;
  log?: Logger;
}

export const leaseKey = (runId: string) => `${runLayout(runId).root}/lease.json`;

/** runs/<run>/epochs/<n>.json: one object per take-over of the run, created atomically, never removed. */
const epochKey = (runId: string, epoch: number) => `${runLayout(runId).root}/epochs/${String(epoch).padStart(9, '0')}.json`;

/**
 * Claims the next epoch of a run: one more than the highest claimed so far, created only if absent
 * (link(2) on a folder, If-None-Match on S3), so two launchers never share one.
 */
export async function claimEpoch(store: ObjectStore, runId: string): Promise<number> {
  let last = 0;
  for await (const { key } of store.list(`${runLayout(runId).root}/epochs/`)) last = Math.max(last, Number(/(\d+)\.json$/.exec(key)?.[1] ?? 0));
  for (let epoch = last + 1; ; epoch++) {
    if (await store.createIfAbsent(epochKey(runId, epoch), JSON.stringify({ epoch, host: hostname(), pid: process.pid, at: new Date().toISOString() }))) return epoch;
  }
}

/** The lease's content, or undefined when there is none; an unreadable lease is held by an unknown launcher. */
export function parseHolder(text: string | undefined): LeaseHolder | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<LeaseHolder>;
    if (typeof v.host === 'string' && typeof v.pid === 'number' && typeof v.startedAt === 'string') {
      return {
        host: v.host, pid: v.pid, startedAt: v.startedAt, command: String(v.command ?? ''), token: String(v.token ?? ''),
        epoch: typeof v.epoch === 'number' ? v.epoch : 0,
      };
    }
  } catch {
    // unreadable: treated as held by an unknown launcher
  }
  return { host: '(unknown)', pid: 0, startedAt: '(unknown)', command: '(unreadable lease)', token: '', epoch: 0 };
}

export const describeHolder = (h: LeaseHolder) => `host ${h.host}, pid ${h.pid}, since ${h.startedAt}${h.command ? `, running "${h.command}"` : ''}`;

/**
 * Takes the run's lease (runs/<run>/lease.json, created only if absent) so two launchers never
 * run the same run at once. A lease left by a launcher that died on this host (its pid is gone)
 * is taken over; one held elsewhere is refused with the holder and how to break it.
 */
export async function acquireRunLease(store: ObjectStore, runId: string, options: LeaseOptions = {}): Promise<RunLease> {
  const key = leaseKey(runId);
  const holder: LeaseHolder = {
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
    command: options.command ?? ['finevideo', ...process.argv.slice(2)].join(' ').slice(0, 300),
    token: randomBytes(8).toString('hex'),
    epoch: await claimEpoch(store, runId),
  };
  const body = JSON.stringify(holder, null, 2);
  let released = false;
  const lease: RunLease = {
    key,
    holder,
    release: async () => {
      if (released) return;
      released = true;
      // Only our own lease: someone may have broken it and taken the run since.
      if (parseHolder(await store.getText(key))?.token === holder.token) await store.delete(key);
    },
  };
  // Two tries: the second after removing a stale (or broken) lease; a racing launcher may still win it.
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (await store.createIfAbsent(key, body)) return lease;
    const text = await store.getText(key);
    if (text === undefined) continue; // released between the create and the read
    const current = parseHolder(text)!;
    const staleHere = current.host === holder.host && current.pid > 0 && current.pid !== process.pid && !pidAlive(current.pid);
    if (attempt === 1 && (options.breakLease || staleHere)) {
      options.log?.warn(`run ${runId}: ${options.breakLease ? 'breaking the lease' : 'taking over the lease of a launcher that is gone'} (${describeHolder(current)})`);
      // Re-read just before deleting: remove only the lease we judged, not a newer one.
      if ((await store.getText(key)) === text) await store.delete(key);
      continue;
    }
    const ref = options.runRef ?? `${store.uri.replace(/^file:\/\//, '').replace(/\/$/, '')}/runs/${runId}`;
    throw new LeaseHeldError(
      `run ${runId}: expected no other launcher running it, got one holding its lease (${describeHolder(current)}). ` +
      `Wait for it to finish; if it is gone (crashed, or its machine is down), break the lease with "finevideo unlock ${ref}" ` +
      `or add --break-lease`,
      current,
    );
  }
  throw new LeaseHeldError(`run ${runId}: expected to take its lease, got it taken by another launcher at the same time; try again`, parseHolder(await store.getText(key)));
}

/** Removes a run's lease whoever holds it; returns the holder it removed (undefined when none). */
export async function breakRunLease(store: ObjectStore, runId: string): Promise<LeaseHolder | undefined> {
  const key = leaseKey(runId);
  const holder = parseHolder(await store.getText(key));
  if (holder) await store.delete(key);
  return holder;
}

/** Runs `fn` holding the run's lease, released afterwards (also when `fn` throws or is cancelled). */
export async function withRunLease<T>(store: ObjectStore, runId: string, options: LeaseOptions, fn: (lease: RunLease) => Promise<T>): Promise<T> {
  const lease = await acquireRunLease(store, runId, options);
  try {
    return await fn(lease);
  } finally {
    await lease.release().catch((e: unknown) => options.log?.warn(`run ${runId}: could not release the lease ${lease.key}: ${(e as Error).message}`));
  }
}
