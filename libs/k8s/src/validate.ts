import * as k8s from '@kubernetes/client-node';
import { Job as JobModel } from 'kubernetes-models/batch/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';

type AttributeMap = { name: string; baseName: string; type: string }[];
type ModelClass = { getAttributeTypeMap(): AttributeMap };

/** The generated client-node models know every field of every Kubernetes type: unknown ones are typos. */
function modelOf(type: string): ModelClass | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return candidate && typeof (candidate as ModelClass).getAttributeTypeMap === 'function' ? (candidate as ModelClass) : undefined;
}

function unknownFields(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) unknownFields(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const model = modelOf(type);
  if (!model || typeof value !== 'object') return;
  const attributes = model.getAttributeTypeMap();
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) out.push(`${path}.${key}: expected a field of ${type}, got unknown field "${key}"`);
    else unknownFields(child, attribute.type, `${path}.${key}`, out);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Limits the API server enforces on Indexed Jobs (batch/v1 validation). */
export const JOB_LIMITS = {
  /** Above this, per-index backoff needs maxFailedIndexes and parallelism is capped. */
  completionsWithoutMaxFailed: 100_000,
  parallelismWithPerIndexBackoff: 10_000,
  maxFailedIndexesMax: 100_000,
} as const;

export interface JobLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    completions?: number;
    parallelism?: number;
    backoffLimitPerIndex?: number;
    maxFailedIndexes?: number;
    completionMode?: string;
  };
}

/**
 * Validates a Job before it is sent: against the Kubernetes schema (kubernetes-models),
 * rejecting unknown fields (client-node's typed models), and against the API's own limits.
 * Returns the problems; empty means valid.
 */
export function jobProblems(job: JobLike): string[] {
  const problems: string[] = [];
  try {
    new JobModel(job as ConstructorParameters<typeof JobModel>[0]).validate();
  } catch (e) {
    problems.push(...(e as Error).message.split(', ').map((m) => `schema: ${m}`));
  }
  unknownFields(job, 'V1Job', 'job', problems);
  const name = job.metadata?.name ?? '';
  if (!DNS_LABEL.test(name) || name.length > 63) problems.push(`metadata.name: expected a DNS label of at most 63 characters, got ${JSON.stringify(name)}`);
  for (const [k, v] of Object.entries(job.metadata?.labels ?? {})) {
    if (v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`metadata.labels.${k}: expected a label value of at most 63 characters, got ${JSON.stringify(v)}`);
  }
  const spec = job.spec ?? {};
  if (spec.completionMode === 'Indexed' && spec.backoffLimitPerIndex !== undefined) {
    if ((spec.completions ?? 0) > JOB_LIMITS.completionsWithoutMaxFailed) {
      if (spec.maxFailedIndexes === undefined) problems.push(`spec.maxFailedIndexes: expected a value when completions exceed ${JOB_LIMITS.completionsWithoutMaxFailed} with backoffLimitPerIndex, got none`);
      if ((spec.parallelism ?? 0) > JOB_LIMITS.parallelismWithPerIndexBackoff) problems.push(`spec.parallelism: expected at most ${JOB_LIMITS.parallelismWithPerIndexBackoff} with more than ${JOB_LIMITS.completionsWithoutMaxFailed} completions, got ${spec.parallelism}`);
    }
    if (spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > JOB_LIMITS.maxFailedIndexesMax) problems.push(`spec.maxFailedIndexes: expected at most ${JOB_LIMITS.maxFailedIndexesMax}, got ${spec.maxFailedIndexes}`);
  }
  if (spec.parallelism !== undefined && spec.completions !== undefined && spec.parallelism > spec.completions) problems.push(`spec.parallelism: expected at most completions (${spec.completions}), got ${spec.parallelism}`);
  return problems;
}

export function validateJob(job: JobLike): void {
  const problems = jobProblems(job);
  if (problems.length) throw new Error(`invalid Job ${job.metadata?.name ?? '?'}:\n  - ${problems.join('\n  - ')}`);
}


type Validatable = { validate(): void };
const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/ConfigMap': ConfigMap, 'v1/Secret': Secret, 'v1/Namespace': Namespace, 'v1/PersistentVolumeClaim': PersistentVolumeClaim, 'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount, 'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/Role': Role, 'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/** The same checks for any object finevideo ships (manifests): schema and unknown fields; Jobs also the API limits. */
export function objectProblems(object: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): string[] {
  if (object.kind === 'Job') return jobProblems(object as JobLike);
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return [`${object.apiVersion}/${object.kind}: expected a kind finevideo knows how to validate, got an unknown one`];
  const problems: string[] = [];
  try {
    new Model(object as never).validate();
  } catch (e) {
    problems.push(...(e as Error).message.split(', ').map((m) => `schema: ${m}`));
  }
  unknownFields(object, `V1${object.kind}`, `${object.kind}/${object.metadata?.name ?? '?'}`, problems);
  return problems;
}
