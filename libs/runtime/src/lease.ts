import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, runLayout, type Logger, type ObjectStore } from '@finevideo/core';
import { pidAlive, processStartId } from './pid-alive.js';

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
  /** The holder's process start time (processStartId): a later process that reuses the pid is not the holder. */
  processStart?: string;
  /** Seconds without a heartbeat after which the holder counts as gone (its heartbeat comes every third of it). */
  ttlSeconds?: number;
}

/** Default lease TTL: a launcher silent for this long (no heartbeat) counts as gone. FINEVIDEO_LEASE_TTL_SECONDS overrides it. */
export const LEASE_TTL_SECONDS = 90;

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
  /** Seconds of silence after which this launcher counts as gone (default FINEVIDEO_LEASE_TTL_SECONDS or LEASE_TTL_SECONDS). */
  ttlSeconds?: number;
  log?: Logger;
}

/**
 * runs/<run>/lease-heartbeat/<token>.json: the holder's heartbeat, renewed while it runs. Keyed by the
 * lease's token, so renewing it can never overwrite the lease of a launcher that took the run since.
 */
export const heartbeatKey = (runId: string, token: string) => `${runLayout(runId).root}/lease-heartbeat/${token.replace(/[^0-9a-f]/g, '') || 'none'}.json`;

/** Whether a lease's holder still runs, and how that was told (for messages). */
export interface HolderLiveness {
  alive: boolean;
  why: string;
}

/**
 * Same host: the holder's pid runs and its start time matches. Another host: its heartbeat is younger
 * than its TTL. An unreadable lease's holder is unknown: alive (only unlock --force removes it).
 */
export async function holderLiveness(store: ObjectStore, runId: string, holder: LeaseHolder, now = Date.now()): Promise<HolderLiveness> {
  if (holder.pid <= 0) return { alive: true, why: 'the lease is unreadable, so its holder cannot be checked' };
  if (holder.host === hostname()) {
    if (holder.pid === process.pid) return { alive: true, why: 'it is this process' };
    if (!pidAlive(holder.pid)) return { alive: false, why: `pid ${holder.pid} no longer runs on this host` };
    const start = holder.processStart ? processStartId(holder.pid) : undefined;
    if (start !== undefined && start !== holder.processStart) return { alive: false, why: `pid ${holder.pid} now belongs to another process (its start time differs)` };
    return { alive: true, why: `pid ${holder.pid} runs on this host${holder.processStart ? ' and its start time matches' : ''}` };
  }
  const ttl = holder.ttlSeconds ?? LEASE_TTL_SECONDS;
  const beat = JSON.parse((await store.getText(heartbeatKey(runId, holder.token))) ?? '{}') as { at?: string };
  const last = Date.parse(beat.at ?? holder.startedAt);
  const age = Number.isNaN(last) ? Infinity : Math.max(0, (now - last) / 1000);
  if (age <= ttl) return { alive: true, why: `its heartbeat is ${Math.round(age)} s old (TTL ${ttl} s)` };
  return { alive: false, why: `its heartbeat is ${Number.isFinite(age) ? `${Math.round(age)} s` : 'missing and'} old, past its TTL of ${ttl} s` };
}

function ttlFrom(options: LeaseOptions): number {
  const fromEnv = Number(process.env.FINEVIDEO_LEASE_TTL_SECONDS);
  const ttl = options.ttlSeconds ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : LEASE_TTL_SECONDS);
  return Math.max(0.3, ttl);
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
        ...(typeof v.processStart === 'string' ? { processStart: v.processStart } : {}),
        ...(typeof v.ttlSeconds === 'number' ? { ttlSeconds: v.ttlSeconds } : {}),
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
    ttlSeconds: ttlFrom(options),
  };
  const processStart = processStartId(process.pid);
  if (processStart) holder.processStart = processStart;
  const body = JSON.stringify(holder, null, 2);
  let released = false;
  let stopHeartbeat = () => undefined as void;
  const lease: RunLease = {
    key,
    holder,
    release: async () => {
      if (released) return;
      released = true;
      stopHeartbeat();
      // Only our own lease: someone may have broken it and taken the run since.
      if (parseHolder(await store.getText(key))?.token === holder.token) await store.delete(key);
      await store.delete(heartbeatKey(runId, holder.token));
    },
  };
  // Two tries: the second after removing a stale (or broken) lease; a racing launcher may still win it.
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (await store.createIfAbsent(key, body)) {
      stopHeartbeat = await startHeartbeat(store, runId, holder, options.log);
      return lease;
    }
    const text = await store.getText(key);
    if (text === undefined) continue; // released between the create and the read
    const current = parseHolder(text)!;
    const liveness = await holderLiveness(store, runId, current);
    if (attempt === 1 && (options.breakLease || !liveness.alive)) {
      options.log?.warn(`run ${runId}: ${options.breakLease ? 'breaking the lease' : `taking over the lease of a launcher that is gone: ${liveness.why}`} (${describeHolder(current)})`);
      // Re-read just before deleting: remove only the lease we judged, not a newer one.
      if ((await store.getText(key)) === text) await store.delete(key);
      continue;
    }
    throw heldError(store, runId, current, liveness, options);
  }
  throw new LeaseHeldError(`run ${runId}: expected to take its lease, got it taken by another launcher at the same time; try again`, parseHolder(await store.getText(key)));
}

/** The refusal of a second launcher: a live holder is waited for, never unlocked; only an unreadable lease is. */
function heldError(store: ObjectStore, runId: string, current: LeaseHolder, liveness: HolderLiveness, options: LeaseOptions): LeaseHeldError {
  const head = `run ${runId}: expected no other launcher running it, got one holding its lease (${describeHolder(current)}; alive: ${liveness.why}). `;
  if (current.pid <= 0) {
    const ref = options.runRef ?? `${store.uri.replace(/^file:\/\//, '').replace(/\/$/, '')}/runs/${runId}`;
    return new LeaseHeldError(`${head}If no launcher runs it, remove the lease with "finevideo unlock --force ${ref}" or add --break-lease`, current);
  }
  const ttl = current.ttlSeconds ?? LEASE_TTL_SECONDS;
  return new LeaseHeldError(`${head}Wait for it to finish, or stop it; a launcher that dies is seen as gone (${current.host === hostname() ? 'at once on this host' : `${ttl} s after its last heartbeat`}) and its lease is taken over by the next run or resume`, current);
}

/** Renews the holder's heartbeat every third of its TTL while it runs; returns what stops it. */
async function startHeartbeat(store: ObjectStore, runId: string, holder: LeaseHolder, log?: Logger): Promise<() => void> {
  const key = heartbeatKey(runId, holder.token);
  const beat = () => store.put(key, JSON.stringify({ at: new Date().toISOString(), host: holder.host, pid: holder.pid }));
  await beat();
  const timer = setInterval(() => {
    beat().catch((e: unknown) => log?.warn(`run ${runId}: could not renew the lease heartbeat ${key}: ${(e as Error).message}`));
  }, ((holder.ttlSeconds ?? LEASE_TTL_SECONDS) * 1000) / 3);
  timer.unref();
  return () => clearInterval(timer);
}

/** Removes a run's lease whoever holds it; returns the holder it removed (undefined when none). */
export async function breakRunLease(store: ObjectStore, runId: string): Promise<LeaseHolder | undefined> {
  const key = leaseKey(runId);
  const holder = parseHolder(await store.getText(key));
  if (holder) {
    await store.delete(key);
    await store.delete(heartbeatKey(runId, holder.token));
  }
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
