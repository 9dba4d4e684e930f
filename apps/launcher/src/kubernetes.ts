import type { KubernetesExecutorConfig, Logger, ObjectStore } from '@finevideo/core';
import type { Executor } from '@finevideo/runtime';
import { createKubernetesExecutor } from '@finevideo/k8s';

/** The Kubernetes executor: Indexed Jobs of each stage's image, kubeconfig loaded the standard way; chunk logs kept in the run's store. */
export function createKubernetesExecutorFor(config: KubernetesExecutorConfig, log: Logger, store: ObjectStore): Executor {
  return createKubernetesExecutor(config, log, undefined, store);
}
