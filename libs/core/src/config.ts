import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { ConfigError, closestName, formatZodIssues } from './errors.js';
import { SAFE_NAME_PATTERN } from './ids.js';
import { kubernetesExecutorSchema } from './config-kubernetes.js';
import { DEFAULT_ERROR_POLICY } from './failures.js';
import { httpUrl, locationWithoutCredentials } from './urls.js';

const safeName = z.string().regex(SAFE_NAME_PATTERN, 'a lowercase name of letters, digits, ".", "_" or "-"');

export const s3OptionsSchema = z.strictObject({
  /** Custom endpoint for S3-compatible stores (MinIO, R2, s3rver...). */
  endpoint: httpUrl('s3.endpoint').optional(),
  region: z.string().optional(),
  forcePathStyle: z.boolean().optional(),
});
export type S3Options = z.infer<typeof s3OptionsSchema>;

export const localExecutorSchema = z.strictObject({
  kind: z.literal('local'),
  /** Chunks running at once (worker processes). */
  parallelism: z.number().int().positive().default(2),
  /** Retries per chunk index after its first attempt. */
  retries: z.number().int().min(0).default(2),
  // Optional (defaults live in the LocalExecutor) so a default `{ kind: local }` stays valid as written.
  /** Wall-clock limit of one attempt of one chunk; none by default. */
  attemptTimeoutSeconds: z.number().positive().optional(),
  /** After SIGTERM (cancel, timeout), seconds before SIGKILL; default 10. */
  killGraceSeconds: z.number().min(0).optional(),
  /** First pause before a retry (doubles per attempt, jittered); default 2. */
  retryBackoffSeconds: z.number().min(0).optional(),
  /** Cap of the pause before a retry; default 60. */
  retryBackoffMaxSeconds: z.number().min(0).optional(),
  /**
   * Streaming runs (several stages at once): chunks running at once per pool. cpu defaults to
   * parallelism, gpu to 1, network (network-bound stages such as download, which may oversubscribe
   * the CPUs) to twice parallelism.
   */
  slots: z.strictObject({
    cpu: z.number().int().positive().optional(),
    gpu: z.number().int().min(0).optional(),
    network: z.number().int().positive().optional(),
  }).optional(),
});
export type LocalExecutorConfig = z.infer<typeof localExecutorSchema>;

export const executorSchema = z.discriminatedUnion('kind', [localExecutorSchema, kubernetesExecutorSchema]);
export type ExecutorConfig = z.infer<typeof executorSchema>;

/** Error rows a stage tolerates before a chunk fails (circuit breaker) or the run exits non-zero. */
export const errorPolicySchema = z.strictObject({
  maxConsecutive: z.number().int().positive().default(DEFAULT_ERROR_POLICY.maxConsecutive),
  maxChunkShare: z.number().gt(0).max(1).default(DEFAULT_ERROR_POLICY.maxChunkShare),
  minItems: z.number().int().min(1).default(DEFAULT_ERROR_POLICY.minItems),
  maxStageShare: z.number().min(0).max(1).default(DEFAULT_ERROR_POLICY.maxStageShare),
});

export const stageConfigSchema = z.strictObject({
  /** The stage type, from the registry (ytcommons, worddensity, download, ...). */
  stage: safeName,
  /** Instance name, unique in the pipeline; defaults to the stage type. */
  name: safeName.optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  chunks: z.number().int().positive().optional(),
  itemsPerChunk: z.number().int().positive().optional(),
  errorPolicy: errorPolicySchema.default(DEFAULT_ERROR_POLICY),
  /** A first stage whose input may be empty (otherwise no input is an error). */
  allowEmptyInput: z.boolean().default(false),
  /**
   * Stream from the previous map stage: chunk k is planned from the kept rows of upstream chunk k
   * (or a group of them, or a share of one) as soon as those are done. Default: the pipeline's
   * `streaming`; a global stage (select) and the stage after it are barriers either way.
   */
  follow: z.boolean().optional(),
});
export type StageConfig = z.infer<typeof stageConfigSchema>;

export const pipelineConfigSchema = z.strictObject({
  name: safeName,
  /** Storage root: a folder (plain path or file://) or s3://bucket/prefix. */
  storage: locationWithoutCredentials('storage'),
  s3: s3OptionsSchema.default({}),
  runId: safeName.optional(),
  executor: executorSchema.default({ kind: 'local', parallelism: 2, retries: 2 }),
  stages: z.array(stageConfigSchema).min(1),
  /** Every map stage that follows a map stage streams from it (see a stage's `follow`). */
  streaming: z.boolean().optional(),
});
export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;

/** A stage of a pipeline with its resolved instance name. */
export interface PipelineStage extends StageConfig {
  name: string;
}

export function pipelineStages(config: PipelineConfig): PipelineStage[] {
  const seen = new Set<string>();
  return config.stages.map((s, i) => {
    const name = s.name ?? s.stage;
    if (seen.has(name)) throw new ConfigError('invalid pipeline config', [`stages[${i}].name: expected a unique stage name, got ${JSON.stringify(name)} twice (set "name" on one of them)`]);
    seen.add(name);
    return { ...s, name };
  });
}

/** A stage type's params schema and kind, as the registry resolves it (throws for an unknown type). */
export type StageSchemaResolver = (type: string) => { params: z.ZodType; kind: 'map' | 'global' };

/**
 * The problems of a pipeline's stages: unknown types, params that fail their stage's schema, a global
 * stage first, duplicate names. Works on the raw file too, so a file with a bad top-level field and a
 * bad stage param reports both at once.
 */
export function pipelineStageIssues(stages: unknown, resolveStage: StageSchemaResolver): string[] {
  if (!Array.isArray(stages)) return [];
  const issues: string[] = [];
  const seen = new Set<string>();
  // The previous stage's name and kind, when known: a stage can only follow a map stage.
  let previous: { name: string; kind: 'map' | 'global' } | undefined;
  for (const [i, entry] of stages.entries()) {
    const before = previous;
    previous = undefined;
    if (!entry || typeof entry !== 'object') continue;
    const { stage: type, name, params, follow } = entry as { stage?: unknown; name?: unknown; params?: unknown; follow?: unknown };
    if (typeof type !== 'string') continue;
    const instance = typeof name === 'string' ? name : type;
    if (seen.has(instance)) issues.push(`stages[${i}].name: expected a unique stage name, got ${JSON.stringify(instance)} twice (set "name" on one of them)`);
    seen.add(instance);
    let stage: ReturnType<StageSchemaResolver>;
    try {
      stage = resolveStage(type);
    } catch (e) {
      const message = (e as Error).message.replace(/^stage type: /, '');
      // The registry lists the known types ("expected one of a, b, got ..."): name the closest one.
      const known = /expected one of (.+?), got /.exec(message)?.[1]?.split(', ');
      const near = known ? closestName(type, known) : undefined;
      issues.push(`stages[${i}].stage: ${message}${near ? `; did you mean ${near}?` : ''}`);
      continue;
    }
    if (stage.kind === 'global' && i === 0) issues.push(`stages[0]: expected a map stage first, got global stage ${type}`);
    previous = { name: instance, kind: stage.kind };
    if (follow === true) {
      // An explicit follow that cannot be honoured would silently run stage by stage.
      const why = i === 0 ? 'it is the first stage' : stage.kind === 'global' ? `it is a global stage (${type})` : before?.kind === 'global' ? `the stage before it, ${before.name}, is a global stage` : undefined;
      if (why) issues.push(`stages[${i}].follow: expected false or no follow (stage ${instance} cannot stream from the stage before it: ${why}), got true`);
    }
    // A params value that is not a mapping is reported by the pipeline schema.
    if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) continue;
    const result = stage.params.safeParse(params ?? {});
    if (!result.success) issues.push(...formatZodIssues(result.error, params ?? {}, { schema: stage.params, keyNoun: 'param' }).map((x) => `stages[${i}].params.${x}`));
  }
  return issues;
}

/**
 * Parses pipeline YAML text; every error names the field and says expected X, got Y. With the stage
 * registry, every stage's params are validated too, and all problems of the file are reported at once.
 */
export function parsePipelineConfig(yamlText: string, source = 'pipeline config', resolveStage?: StageSchemaResolver): PipelineConfig {
  let raw: unknown;
  try {
    raw = parseYaml(yamlText);
  } catch (error) {
    throw new ConfigError(`invalid ${source}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const result = pipelineConfigSchema.safeParse(raw);
  const issues = result.success ? [] : formatZodIssues(result.error, raw, { schema: pipelineConfigSchema });
  const stages = raw && typeof raw === 'object' ? (raw as { stages?: unknown }).stages : undefined;
  if (resolveStage) issues.push(...pipelineStageIssues(stages, resolveStage));
  if (issues.length || !result.success) throw new ConfigError(`invalid ${source}`, issues);
  pipelineStages(result.data);
  return result.data;
}
