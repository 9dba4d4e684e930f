import { z } from 'zod';

/** Plain `env` names that would carry a secret into run.json and rendered manifests. */
const SECRET_LIKE_NAME = /(^|_)(SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?|API_?KEY|ACCESS_KEY(_ID)?|PRIVATE_KEY)(_|$)/i;

/** A Secret key exposed to the worker as an environment variable: by reference only, never a value. */
export const secretEnvRefSchema = z.strictObject({
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'),
  secret: z.string().min(1),
  key: z.string().min(1),
  /** Only these pipeline stages get it (least privilege: the LLM key for classify only); absent: every stage. */
  stages: z.array(z.string().min(1)).min(1).optional(),
});

/** Kubernetes executor options (pipeline config `executor: { kind: kubernetes, ... }`). */
export const kubernetesExecutorSchema = z.strictObject({
  kind: z.literal('kubernetes'),
  namespace: z.string().default('finevideo'),
  /** Image registry prefix, e.g. "ghcr.io/acme"; the stage image name and tag are appended. */
  registry: z.string().default('ghcr.io/finevideo'),
  tag: z.string().default('latest'),
  serviceAccount: z.string().default('finevideo-worker'),
  imagePullSecrets: z.array(z.string()).default([]),
  priorityClass: z.string().optional(),
  /** Kueue LocalQueue name; Jobs are created suspended and admitted by Kueue. */
  queue: z.string().optional(),
  /** Kueue LocalQueue per pool (cpu, gpu, network-bound stages), over `queue`: each pool's quota kept busy, never overcommitted. */
  queues: z.strictObject({ cpu: z.string().optional(), gpu: z.string().optional(), network: z.string().optional() }).optional(),
  /**
   * Streaming runs: ready chunks of a following stage are submitted as one Indexed Job (a wave) once
   * minChunks are ready, or the oldest waited maxWaitSeconds, or no more can come; never a Job per chunk.
   */
  waves: z.strictObject({
    minChunks: z.number().int().positive().default(16),
    maxWaitSeconds: z.number().min(0).default(60),
  }).optional(),
  parallelism: z.number().int().positive().default(8),
  backoffLimitPerIndex: z.number().int().min(0).default(3),
  maxFailedIndexes: z.number().int().min(0).optional(),
  ttlSecondsAfterFinished: z.number().int().min(0).default(86400),
  activeDeadlineSeconds: z.number().int().positive().optional(),
  secretEnv: z.array(secretEnvRefSchema).default([]),
  /** Whole Secrets exposed as environment (envFrom). */
  secretEnvFrom: z.array(z.string()).default([]),
  /** Extra plain environment for workers (no secrets here: the values land in run.json and `render`). */
  env: z.record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .refine((name) => !SECRET_LIKE_NAME.test(name), { message: 'a name that does not look like a secret (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL): pass secrets with secretEnv or secretEnvFrom' }),
    z.string(),
  ).default({}),
  gpuNodeSelector: z.record(z.string(), z.string()).default({ 'finevideo.dev/pool': 'gpu' }),
  cpuNodeSelector: z.record(z.string(), z.string()).default({}),
  context: z.string().optional(),
});

export type KubernetesExecutorConfig = z.infer<typeof kubernetesExecutorSchema>;

/** One Job holds at most this many indexes; bigger stages become several Jobs (and stay clear of the API's large-Job rules). */
export const MAX_COMPLETIONS_PER_JOB = 100_000;
