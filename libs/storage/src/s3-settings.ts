import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, parseOrThrow, s3OptionsSchema, type S3Options } from '@finevideo/core';

/**
 * The non-secret settings that say where an S3 store is (endpoint, region, path style). A run records
 * them in run.json, but run.json itself is read through them: so the launcher also keeps them, per
 * storage root, in a small file of this machine (never credentials), and prints them as flags in the
 * commands another machine needs.
 */
const settingsFileSchema = z.record(z.string(), s3OptionsSchema);

/** $FINEVIDEO_CONFIG_DIR, else $XDG_CONFIG_HOME/finevideo, else ~/.config/finevideo: storage.json. */
export function s3SettingsFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.FINEVIDEO_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'finevideo');
  return join(dir, 'storage.json');
}

/** The config's settings, completed from the standard AWS variables: what this launcher actually uses. */
export function effectiveS3Settings(s3: S3Options, env: NodeJS.ProcessEnv = process.env): S3Options {
  const endpoint = s3.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = s3.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const pathStyle = env.FINEVIDEO_S3_FORCE_PATH_STYLE === '1' || env.FINEVIDEO_S3_FORCE_PATH_STYLE === 'true';
  const forcePathStyle = s3.forcePathStyle ?? (pathStyle ? true : undefined);
  return { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(forcePathStyle !== undefined ? { forcePathStyle } : {}) };
}

function readSettingsFile(path: string): Record<string, S3Options> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: expected JSON (storage root -> S3 settings), got unparsable text; fix or remove it`);
  }
  return parseOrThrow(settingsFileSchema, parsed, path);
}

const rootOf = (uri: string) => uri.replace(/\/+$/, '');

/** The settings remembered for the storage root holding `uri` (the longest root that is a prefix of it). */
export function rememberedS3Settings(uri: string, env: NodeJS.ProcessEnv = process.env): S3Options | undefined {
  const target = rootOf(uri);
  let best: string | undefined;
  const known = readSettingsFile(s3SettingsFile(env));
  for (const root of Object.keys(known)) {
    const under = target === root || target.startsWith(`${root}/`);
    if (under && (best === undefined || root.length > best.length)) best = root;
  }
  return best === undefined ? undefined : known[best];
}

/** Records the settings of an s3:// storage root (written whole through a rename, so never half a file). */
export function rememberS3Settings(storageUri: string, s3: S3Options, env: NodeJS.ProcessEnv = process.env): void {
  if (!storageUri.startsWith('s3://') || !Object.keys(s3).length) return;
  const path = s3SettingsFile(env);
  const known = readSettingsFile(path);
  const root = rootOf(storageUri);
  if (JSON.stringify(known[root]) === JSON.stringify(s3)) return;
  known[root] = parseOrThrow(s3OptionsSchema, s3, 's3');
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(known, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Flags given to a command that opens a run, such as `--s3-endpoint`. */
export interface S3Flags {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
}

export function s3SettingsFromFlags(flags: S3Flags): S3Options {
  const given = {
    ...(flags.s3Endpoint !== undefined ? { endpoint: flags.s3Endpoint } : {}),
    ...(flags.s3Region !== undefined ? { region: flags.s3Region } : {}),
    ...(flags.s3PathStyle ? { forcePathStyle: true } : {}),
  };
  return parseOrThrow(s3OptionsSchema, given, 's3 flags') as S3Options;
}

/** The flags that carry the settings on a printed command line ("" for none). */
export function s3SettingsAsFlags(s3: S3Options): string {
  const parts: string[] = [];
  if (s3.endpoint) parts.push(`--s3-endpoint ${s3.endpoint}`);
  if (s3.region) parts.push(`--s3-region ${s3.region}`);
  if (s3.forcePathStyle) parts.push('--s3-path-style');
  return parts.length ? ` ${parts.join(' ')}` : '';
}

/**
 * The settings to open an existing run's s3:// storage with, before its run.json is read, field by
 * field: flags, else the environment (set on purpose, so it wins), else what this machine remembered
 * for that root. Folders need none.
 */
export function s3SettingsForRun(storage: string, flags: S3Flags, env: NodeJS.ProcessEnv = process.env): S3Options {
  if (!storage.startsWith('s3://')) return {};
  return { ...rememberedS3Settings(storage, env), ...effectiveS3Settings(s3SettingsFromFlags(flags), env) };
}

/**
 * Settings recorded in run.json that differ from those the run was just read with: each as a
 * sentence (the store answered with the ones used, so those are kept for this command).
 */
export function s3SettingsMismatches(recorded: S3Options, used: S3Options): string[] {
  const out: string[] = [];
  for (const field of ['endpoint', 'region', 'forcePathStyle'] as const) {
    const r = recorded[field];
    if (r !== undefined && used[field] !== undefined && r !== used[field]) {
      out.push(`s3.${field}: run.json records ${JSON.stringify(r)}, this command used ${JSON.stringify(used[field])}`);
    }
  }
  return out;
}
