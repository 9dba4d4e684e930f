/** The slice of Kubernetes object shapes the fake API server reads and writes (plain JSON). */

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; [key: string]: unknown };
}

export interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string; optional?: boolean }; prefix?: string }[];
  [key: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; [key: string]: unknown };
}

export interface PodFailurePolicyRule {
  action: 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';
  onExitCodes?: { containerName?: string; operator: 'In' | 'NotIn'; values: number[] };
  onPodConditions?: { type: string; status?: string }[];
}

export interface JobCondition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
  lastProbeTime: string;
  lastTransitionTime: string;
}

export interface FakeJob {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: ObjectMeta;
  spec: {
    completions?: number;
    parallelism?: number;
    completionMode?: string;
    backoffLimit?: number;
    backoffLimitPerIndex?: number;
    maxFailedIndexes?: number;
    podFailurePolicy?: { rules: PodFailurePolicyRule[] };
    activeDeadlineSeconds?: number;
    suspend?: boolean;
    selector?: { matchLabels?: Record<string, string> };
    template: PodTemplate;
    [key: string]: unknown;
  };
  status: {
    active?: number;
    ready?: number;
    succeeded?: number;
    failed?: number;
    terminating?: number;
    completedIndexes?: string;
    failedIndexes?: string;
    startTime?: string;
    completionTime?: string;
    conditions?: JobCondition[];
    uncountedTerminatedPods?: Record<string, unknown>;
  };
}

export interface FakePod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodTemplate['spec'] & { nodeName?: string };
  status: {
    phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
    startTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
    containerStatuses?: {
      name: string;
      image: string;
      ready: boolean;
      restartCount: number;
      state: { running?: { startedAt: string }; waiting?: { reason: string; message?: string }; terminated?: { exitCode: number; reason: string; signal?: number; startedAt?: string; finishedAt: string } };
    }[];
  };
}

export type FakeObject = FakeJob | FakePod;

export const clone = <T>(value: T): T => structuredClone(value);
export const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** A Kubernetes Status object (the body of every API error). */
export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Equality-based and set-based label selectors ("a=b,c!=d,e in (x,y),!f,g"). */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      const has = m[1]! in l && values.includes(l[m[1]!]!);
      return m[2] === 'in' ? has : !has;
    }
    if ((m = /^([^\s!=]+)\s*!=\s*(.*)$/.exec(term))) return l[m[1]!] !== m[2]!.trim();
    if ((m = /^([^\s!=]+)\s*==?\s*(.*)$/.exec(term))) return l[m[1]!] === m[2]!.trim();
    if ((m = /^!\s*(\S+)$/.exec(term))) return !(m[1]! in l);
    return term in l;
  });
}

/** Field selectors on metadata.name / metadata.namespace / status.phase (what clients use for one object). */
export function matchesFieldSelector(object: FakeObject, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(term.trim());
    if (!m) return false;
    const field = m[1]!.trim();
    const actual = field === 'metadata.name' ? object.metadata.name : field === 'metadata.namespace' ? object.metadata.namespace : field === 'status.phase' && object.kind === 'Pod' ? object.status.phase : undefined;
    return m[2] === '!=' ? actual !== m[3] : actual === m[3];
  });
}
