import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseOrThrow } from './errors.js';
import { SAFE_NAME_PATTERN } from './ids.js';
import { kubernetesExecutorSchema } from './config-kubernetes.js';
import { DEFAULT_ERROR_POLICY } from './failures.js';
import { httpUrl } from './urls.js';

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
});
export type StageConfig = z.infer<typeof stageConfigSchema>;

export const pipelineConfigSchema = z.strictObject({
  name: safeName,
  /** Storage root: a folder (plain path or file://) or s3://bucket/prefix. */
  storage: z.string().min(1),
  s3: s3OptionsSchema.default({}),
  runId: safeName.optional(),
  executor: executorSchema.default({ kind: 'local', parallelism: 2, retries: 2 }),
  stages: z.array(stageConfigSchema).min(1),
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

/** Parses pipeline YAML text; every error names the field and says expected X, got Y. */
export function parsePipelineConfig(yamlText: string, source = 'pipeline config'): PipelineConfig {
  let raw: unknown;
  try {
    raw = parseYaml(yamlText);
  } catch (error) {
    throw new ConfigError(`invalid ${source}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const config = parseOrThrow(pipelineConfigSchema, raw, source);
  pipelineStages(config);
  return config;
}
