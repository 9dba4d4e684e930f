import { readFile } from 'node:fs/promises';
import {
  ConfigError, WORKER_ENV, parsePipelineConfig, pipelineStages, runLayout,
  type ExecutorConfig, type Logger, type ObjectStore, type PipelineConfig, type PipelineStage,
} from '@finevideo/core';
import { effectiveS3Settings, openStore, rememberS3Settings, s3SettingsAsFlags, s3SettingsForRun, s3SettingsMismatches, type S3Flags } from '@finevideo/storage';
import {
  LocalExecutor, createLogger, createRun, sealStage, pendingIndexes, planStage, readRunManifest, runPipeline, runStatus, storageEnv, validatePipeline,
  renderAttempt, readPlan, type Executor, type RunManifest, type StageOutcome, type StagePlan,
  checkStageName, applyRetryErrors, planRetryErrors, retrySelection,
  withRunLease, type RunLease,
} from '@finevideo/runtime';
import { stageByType } from '@finevideo/stages';
import { createKubernetesExecutorFor } from './kubernetes.js';
import { errorLines, errorShare, errorShareFailures, formatFunnel, readKeptCommand, stageNotes, type StageErrors } from './funnel.js';
import { createProgressReporter } from './progress.js';
import { parseRunRef, runRef } from './run-ref.js';
import { planEstimate } from './plan-estimate.js';
import type { CommandResult, GlobalOptions } from './command-types.js';
import { retryErrorsFlag, retryErrorsLines, retryErrorsWarnings } from './retry-errors.js';
import { scaleEstimateCommand, type ScaleOptions } from './plan-scale-command.js';


export type { CommandResult, GlobalOptions } from './command-types.js';

export interface RunOptions extends GlobalOptions {
  executor?: 'local' | 'kubernetes';
  runId?: string;
  parallelism?: number;
  retries?: number;
  until?: string;
  /** Take the run's lease even if another launcher holds it (that launcher is gone). */
  breakLease?: boolean;
  /** resume: run again the items whose rows are errors (true: reasons a retry can change; ["all"]: every reason; a list: those reasons or classes). */
  retryErrors?: string[] | true;
}

/** resume: a run's options, and the S3 settings to reach its storage with. */
export type ResumeOptions = RunOptions & S3Flags;

export interface StatusOptions extends GlobalOptions, S3Flags {
  /** Check that every part each marker lists exists. */
  verify?: boolean;
}

export async function loadPipeline(path: string): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`pipeline config: expected a readable YAML file, got ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // With the registry, a bad top-level field and a bad stage param are reported together (every stage's params checked).
  return parsePipelineConfig(text, path, stageByType);
}

function applyOverrides(config: PipelineConfig, options: RunOptions): PipelineConfig {
  let executor: ExecutorConfig = config.executor;
  if (options.executor && options.executor !== executor.kind) {
    executor = options.executor === 'local' ? { kind: 'local', parallelism: 2, retries: 2 } : parsedKubernetesDefaults();
  }
  if (executor.kind === 'local') {
    executor = { ...executor, ...(options.parallelism ? { parallelism: options.parallelism } : {}), ...(options.retries !== undefined ? { retries: options.retries } : {}) };
  } else if (options.parallelism) {
    executor = { ...executor, parallelism: options.parallelism };
  }
  return { ...config, executor, ...(options.runId ? { runId: options.runId } : {}) };
}

function parsedKubernetesDefaults(): ExecutorConfig {
  return parsePipelineConfig('name: x\nstorage: x\nexecutor: { kind: kubernetes }\nstages: [{ stage: x }]').executor;
}

async function makeExecutor(config: PipelineConfig, store: ObjectStore, log: Logger): Promise<Executor> {
  const executor = config.executor;
  if (executor.kind === 'local') {
    return new LocalExecutor({ ...executor, store, env: storageEnv(config) }); // with its timeout, kill grace and backoff settings
  }
  return createKubernetesExecutorFor(executor, log, store);
}

/** The run's lease: one launcher per run at a time; --break-lease takes it from a launcher that is gone. */
const leaseOptions = (options: RunOptions) => ({ breakLease: options.breakLease === true, log: createLogger({}, options.json === true) });

function progressMode(options: GlobalOptions): 'tty' | 'plain' | 'json' {
  if (options.json) return 'json';
  return process.stderr.isTTY ? 'tty' : 'plain';
}

async function execute(manifest: RunManifest, store: ObjectStore, lease: RunLease, options: RunOptions, signal?: AbortSignal): Promise<CommandResult> {
  const log = createLogger({ run: manifest.runId }, options.json === true);
  const progress = createProgressReporter(progressMode(options));
  const config = manifest.config;
  const outcomes = await runPipeline(manifest, {
    store, log, resolveStage: stageByType, executor: await makeExecutor(config, store, log),
    // The lease's epoch fences every worker: once another launcher takes the run over, nothing of this one's workers lands.
    workerEnv: { ...storageEnv(config), [WORKER_ENV.epoch]: String(lease.holder.epoch), ...(options.json ? { FINEVIDEO_LOG_JSON: '1' } : {}) },
    onProgress: (stage, p) => progress.update(stage, p),
    ...(signal ? { signal } : {}),
    ...(options.until ? { untilStage: options.until } : {}),
  });
  progress.done();
  return summarize(manifest, store, outcomes, options, signal);
}

/** Exit code of a cancelled run (128 + SIGINT, as shells report Ctrl-C). */
export const EXIT_CANCELLED = 130;
/** Exit code of a run stopped by SIGHUP (128 + 1): its terminal closed. */
export const EXIT_HANGUP = 129;

/**
 * Whether the run was cut short by a stop signal: a stage cancelled, or the signal came before the
 * last stage asked for (--until, else the pipeline's last) was sealed. A signal that lands after
 * that changes nothing: the run finished.
 */
export function wasCancelled(manifest: RunManifest, outcomes: readonly StageOutcome[], until: string | undefined, signal?: AbortSignal): boolean {
  if (outcomes.some((o) => o.cancelled)) return true;
  if (signal?.aborted !== true) return false;
  const last = outcomes.at(-1);
  const finalStage = until ?? pipelineStages(manifest.config).at(-1)?.name;
  return !(last && last.stage === finalStage && last.tableKey && !last.failed.length);
}

/** The end of a run or resume: funnel, error rows by reason, verdict and exit code, where the output is. */
export function summarize(manifest: RunManifest, store: Pick<ObjectStore, 'uri'>, outcomes: StageOutcome[], options: GlobalOptions & { until?: string }, signal?: AbortSignal): CommandResult {
  const cancelled = wasCancelled(manifest, outcomes, options.until, signal);
  const failed = outcomes.find((o) => o.failed.length);
  const ref = runRef(store.uri, manifest.runId);
  // What another machine needs to reach the run: its storage settings as flags (never credentials).
  const again = `${ref}${s3SettingsAsFlags(manifest.config.s3)}`;
  const policies = new Map(pipelineStages(manifest.config).map((s) => [s.name, s.errorPolicy]));
  const errors: StageErrors[] = outcomes.filter((o) => !o.failed.length).map((o) => ({
    stage: o.stage, stats: o.stats, failedItems: o.failedItems, policy: policies.get(o.stage) ?? { maxStageShare: 1 },
  }));
  const shareFailures = errorShareFailures(errors);
  const notes = stageNotes(outcomes);
  let last: StageOutcome | undefined;
  for (const o of outcomes) if (o.tableKey) last = o;
  const root = store.uri.replace(/^file:\/\//, '');
  const table = last?.tableKey ? `${root}/${last.tableKey}` : undefined;
  const outDir = table?.replace(/table\.json$/, 'out/');
  const readKept = outDir ? readKeptCommand(outDir) : undefined;
  const exitCode = cancelled ? (signal?.reason === 'SIGHUP' ? EXIT_HANGUP : EXIT_CANCELLED) : failed || shareFailures.length ? 1 : 0;
  if (options.json) {
    const stages = outcomes.map((o) => ({ ...o, errorShare: errorShare({ stage: o.stage, stats: o.stats, failedItems: o.failedItems, policy: { maxStageShare: 1 } }) }));
    return {
      exitCode,
      output: JSON.stringify({ run: ref, runId: manifest.runId, cancelled, table, readKept, errorShareExceeded: shareFailures, notes, stages }, null, 2),
    };
  }
  const lines = [formatFunnel(outcomes.map((o) => ({ stage: o.stage, stats: o.stats })))];
  const perStage = errorLines(errors);
  if (perStage.length) lines.push('', 'error rows by reason:', ...perStage);
  for (const f of shareFailures) {
    const reasons = errors.find((e) => e.stage === f.stage)?.stats.reasons ?? {};
    lines.push('', f.message, `run the failed items again after fixing the cause: finevideo resume ${again} ${retryErrorsFlag(reasons)}`);
  }
  if (notes.length) lines.push('', ...notes);
  if (cancelled) {
    const where = failed ? ` during stage ${failed.stage}` : outcomes.length ? ` after stage ${outcomes.at(-1)!.stage}` : '';
    lines.push('', `cancelled${where}: chunks not finished have no marker; continue with: finevideo resume ${again}`);
  } else if (failed) {
    lines.push('', `stage ${failed.stage}: ${failed.failed.length} chunk(s) failed:`);
    for (const f of failed.failed.slice(0, 10)) lines.push(`  chunk ${f.index}: ${f.reason}${f.logTail ? `\n    ${f.logTail.trim().split('\n').slice(-5).join('\n    ')}` : ''}`);
    lines.push(`logs: ${ref}/${failed.stage}/logs/`, `fix the cause, then resume with: finevideo resume ${again}`);
  }
  lines.push('', `run: ${ref}`);
  if (again !== ref) lines.push(`status: finevideo status ${again}`);
  if (table && outDir) {
    lines.push(`output table: ${table} (stage ${last!.stage}; parquet parts in ${outDir}, holding kept, dropped and error rows)`);
    lines.push(`read only kept rows: ${readKept}`);
  }
  return { exitCode, output: lines.join('\n') };
}

/**
 * The config's S3 settings reach every store the launcher opens itself, such as a stage's source
 * prefix listed while planning, as they reach the workers (through the same variables).
 */
function useStorageSettings(config: PipelineConfig): void {
  Object.assign(process.env, storageEnv(config));
}

export async function runCommand(pipelinePath: string, options: RunOptions, signal?: AbortSignal): Promise<CommandResult> {
  const config = withEffectiveS3(applyOverrides(await loadPipeline(pipelinePath), options));
  // Before anything is created or paid for: an unknown stage would otherwise run the whole pipeline.
  if (options.until !== undefined) checkStageName(config, options.until, '--until');
  useStorageSettings(config);
  const store = openStore(config.storage, config.s3);
  const manifest = await createRun(config, store);
  rememberS3Settings(config.storage, manifest.config.s3);
  const { executor: recordedExecutor, runId: _recordedId, ...recorded } = manifest.config;
  const { executor: _executor, runId: _givenId, ...given } = config;
  if (JSON.stringify(recorded) !== JSON.stringify(given)) {
    // An existing run keeps the plan it was created with; only the executor may change, as with resume.
    createLogger({ run: manifest.runId }, options.json === true).warn(`run ${manifest.runId} already exists: its recorded stages and settings are used, not those of ${pipelinePath} (start a new run id to use them)`);
  }
  const executorChanged = JSON.stringify(recordedExecutor) !== JSON.stringify(config.executor);
  return withRunLease(store, manifest.runId, leaseOptions(options), (lease) =>
    execute(executorChanged ? { ...manifest, config: { ...manifest.config, executor: config.executor } } : manifest, store, lease, options, signal));
}

/**
 * An s3:// run records the settings it was created with (the config's, completed from the AWS
 * variables), so every later command reaches the same store without them in the environment.
 */
function withEffectiveS3(config: PipelineConfig): PipelineConfig {
  return config.storage.startsWith('s3://') ? { ...config, s3: effectiveS3Settings(config.s3) } : config;
}

/**
 * A run named by the user: run.json is read with the settings given as flags, else those this machine
 * remembered for that storage, else the environment; settings recorded in run.json that differ are
 * said, and the ones that reached the store are kept (for this command and its workers).
 */
export async function openRun(ref: string, flags: S3Flags = {}, log: Logger = createLogger({}, false)): Promise<{ store: ObjectStore; manifest: RunManifest }> {
  const { storage, runId } = parseRunRef(ref);
  const used = s3SettingsForRun(storage, flags);
  const store = openStore(storage, used);
  const recorded = await readRunManifest(store, runId);
  for (const m of s3SettingsMismatches(recorded.config.s3, used)) log.warn(`run ${runId}: ${m} (kept: it reached the store)`);
  const s3 = { ...recorded.config.s3, ...used };
  rememberS3Settings(storage, s3);
  const manifest = { ...recorded, config: { ...recorded.config, s3 } };
  useStorageSettings(manifest.config);
  return { store, manifest };
}

export async function resumeCommand(ref: string, options: ResumeOptions, signal?: AbortSignal): Promise<CommandResult> {
  const { store, manifest } = await openRun(ref, options, createLogger({}, options.json === true));
  // Held from before anything is rewritten (retry-errors) until the run ends, Ctrl-C included.
  return withRunLease(store, manifest.runId, leaseOptions(options), (lease) => resumeHoldingLease(store, manifest, lease, options, signal));
}

async function resumeHoldingLease(store: ObjectStore, manifest: RunManifest, lease: RunLease, options: RunOptions, signal?: AbortSignal): Promise<CommandResult> {
  validatePipeline(manifest.config, stageByType);
  if (options.until !== undefined) checkStageName(manifest.config, options.until, '--until');
  // The executor may change on resume (say, local to kubernetes); the plan never does.
  const config = applyOverrides(manifest.config, { ...options, runId: undefined });
  if (options.retryErrors) {
    const log = createLogger({ run: manifest.runId }, options.json === true);
    const selection = retrySelection(options.retryErrors);
    const plan = await planRetryErrors(store, manifest, selection, stageByType);
    // Printed before anything is reset: which stages run again, and how many paid items that means.
    for (const line of retryErrorsLines(plan, selection)) log.info(line);
    for (const line of retryErrorsWarnings(plan)) log.warn(line);
    await applyRetryErrors(store, manifest, plan, selection);
  }
  return execute({ ...manifest, config }, store, lease, options, signal);
}

/**
 * Per stage: chunks done, failed (by the stage's last finished attempt) and pending, the funnel and
 * error rows by reason. "complete" only when every stage is sealed and every chunk has its marker.
 * With verify, every part each marker lists must exist (exit 1 naming the missing ones).
 */
export async function statusCommand(ref: string, options: StatusOptions): Promise<CommandResult> {
  const { store, manifest } = await openRun(ref, options, createLogger({}, options.json === true));
  const status = await runStatus(store, manifest.runId, { verify: options.verify === true });
  const runRefText = runRef(store.uri, manifest.runId);
  const again = `${runRefText}${s3SettingsAsFlags(manifest.config.s3)}`;
  const missing = status.stages.flatMap((s) => s.missingParts ?? []);
  const exitCode = missing.length ? 1 : 0;
  const policies = new Map(pipelineStages(manifest.config).map((s) => [s.name, s.errorPolicy]));
  const errors: StageErrors[] = status.stages.map((s) => ({ stage: s.stage, stats: s.stats, failedItems: s.failedItems, policy: policies.get(s.stage) ?? { maxStageShare: 1 } }));
  const shareFailures = errorShareFailures(errors.filter((_, i) => status.stages[i]!.sealed));
  if (options.json) {
    const stages = status.stages.map((s, i) => ({ ...s, errorShare: errorShare(errors[i]!), errorShareExceeded: shareFailures.some((f) => f.stage === s.stage) }));
    return { exitCode, output: JSON.stringify({ run: runRefText, runId: manifest.runId, complete: status.complete, stages }, null, 2) };
  }
  const rows = status.stages.map((s) => ({
    stage: s.stage,
    chunks: s.planned ? `${s.done}/${s.chunks}${s.failed ? ` ${s.failed}F` : ''}${s.sealed ? ' table ready' : ''}` : 'not planned',
    stats: s.stats,
  }));
  const lines = [`run ${manifest.runId} (created ${manifest.createdAt}): ${status.complete ? 'complete' : 'incomplete'}`, formatFunnel(rows)];
  const failing = status.stages.filter((s) => s.failed);
  for (const s of failing) lines.push(`stage ${s.stage}: ${s.failed} chunk(s) failed in its last attempt (logs: ${runRefText}/${s.stage}/logs/); resume with: finevideo resume ${again}`);
  const perStage = errorLines(errors);
  if (perStage.length) lines.push('error rows by reason:', ...perStage);
  lines.push(...stageNotes(status.stages.map((s) => ({ stage: s.stage, stats: s.stats, ...(s.planned ? { plan: { chunkCount: s.chunks } } : {}) }))));
  // The same verdict as the run's summary: a sealed stage past its maxStageShare made the run exit 1.
  for (const f of shareFailures) lines.push(f.message);
  if (options.verify) {
    if (missing.length) {
      lines.push(`verify: ${missing.length} part(s) listed by markers are missing:`, ...missing.slice(0, 20).map((k) => `  ${k}`));
      if (missing.length > 20) lines.push(`  ... and ${missing.length - 20} more`);
    } else {
      const parts = status.stages.reduce((n, s) => n + (s.planned ? s.done : 0), 0);
      lines.push(`verify: every part listed by the ${parts} chunk marker(s) exists`);
    }
  }
  return { exitCode, output: lines.join('\n') };
}

export async function planCommand(pipelinePath: string, options: RunOptions & ScaleOptions): Promise<CommandResult> {
  const config = applyOverrides(await loadPipeline(pipelinePath), options);
  if (options.estimate) return scaleEstimateCommand(config, options);
  useStorageSettings(config);
  const store = openStore(config.storage, config.s3);
  const manifest = await createRun(withEffectiveS3(config), store);
  rememberS3Settings(config.storage, manifest.config.s3);
  const log = createLogger({ run: manifest.runId }, options.json === true);
  const stages = pipelineStages(config);
  const planned: { stage: string; type: string; items?: number; chunks?: number; pending?: number; note?: string; estimate?: string }[] = [];
  for (const [i, s] of stages.entries()) {
    const previous = i > 0 ? stages[i - 1] : undefined;
    if (previous && !(await store.exists(runLayout(manifest.runId).stage(previous.name).table))) {
      planned.push({ stage: s.name, type: s.stage, note: `planned when ${previous.name} completes (its table is its work list)` });
      continue;
    }
    const plan = await planStage(manifest, s, previous, { store, log, resolveStage: stageByType });
    const pending = (await pendingIndexes(store, manifest.runId, s.name, plan)).length;
    // Runs driven by kubectl: a stage whose chunks are all done is sealed here (table.json), so the next one can be planned.
    if (pending === 0) await sealStage(store, manifest.runId, s.name, plan);
    const estimate = await planEstimate(store, manifest.runId, s, plan);
    planned.push({ stage: s.name, type: s.stage, items: plan.itemCount, chunks: plan.chunkCount, pending, ...(estimate ? { estimate } : {}) });
  }
  const ref = runRef(store.uri, manifest.runId);
  if (options.json) return { exitCode: 0, output: JSON.stringify({ run: ref, runId: manifest.runId, stages: planned }, null, 2) };
  const lines = [`run ${manifest.runId} (${config.executor.kind} executor)`, ...planned.map((p) =>
    p.note ? `  ${p.stage} [${p.type}]: ${p.note}` : `  ${p.stage} [${p.type}]: ${p.items} items in ${p.chunks} chunks, ${p.pending} to run${p.estimate ? `\n    ${p.estimate}` : ''}`), `run: ${ref}`];
  return { exitCode: 0, output: lines.join('\n') };
}

export { readRunManifest };

/**
 * The exact Jobs the launcher would submit for the stages that have pending chunks,
 * as YAML for `kubectl apply -f -`. Run `finevideo plan` first (and again after each stage).
 */
export async function renderCommand(ref: string, options: { stage?: string } & S3Flags): Promise<CommandResult> {
  const { store, manifest } = await openRun(ref, options);
  const config = manifest.config.executor.kind === 'kubernetes' ? manifest.config : applyOverrides(manifest.config, { executor: 'kubernetes' });
  if (config.executor.kind !== 'kubernetes') throw new ConfigError('executor: expected kubernetes settings, got none');
  const planned: { s: PipelineStage; plan: StagePlan }[] = [];
  for (const s of pipelineStages(manifest.config)) {
    if (options.stage && s.name !== options.stage) continue;
    const plan = await readPlan(store, manifest.runId, s.name);
    if (!plan) continue;
    if (plan.follows) {
      // Its chunks are listed as upstream chunks finish, by the launcher: Jobs rendered now would find no work lists.
      throw new ConfigError(
        `render: stage ${s.name} of run ${manifest.runId} was planned streaming from ${plan.follows.stage} (its chunks are listed as ${plan.follows.stage}'s chunks finish, which only "finevideo run" or "finevideo resume" does), so its Jobs cannot be rendered; resume the run with the launcher, or render a run planned with "finevideo plan"`,
      );
    }
    planned.push({ s, plan });
  }
  const objects: object[] = [];
  // Loaded here, not at start-up: the Kubernetes client costs every other command about 80 MB and 1 s of CPU.
  const { buildStageJobs: renderStageJobs, toYaml } = await import('@finevideo/k8s');
  for (const { s, plan } of planned) {
    const pending = await pendingIndexes(store, manifest.runId, s.name, plan);
    if (!pending.length) continue;
    const stage = stageByType(s.stage);
    objects.push(...renderStageJobs({
      runId: manifest.runId, storage: store.uri, stageName: s.name, stageType: s.stage, image: stage.image, resources: stage.resources,
      chunkCount: plan.chunkCount, indexes: pending, attempt: await renderAttempt(store, manifest.runId, s.name, pending), env: storageEnv(manifest.config),
    }, config.executor));
  }
  if (!objects.length) return { exitCode: 0, output: '# nothing to render: no planned stage has pending chunks (run "finevideo plan" first)' };
  return { exitCode: 0, output: toYaml(objects).trimEnd() };
}
