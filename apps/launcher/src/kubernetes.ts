import type { KubernetesExecutorConfig, Logger, ObjectStore } from '@finevideo/core';
import type { Executor } from '@finevideo/runtime';

/**
 * The Kubernetes executor: Indexed Jobs of each stage's image, kubeconfig loaded the standard way; chunk logs
 * kept in the run's store. Loaded on demand: the Kubernetes client costs a local run about 80 MB and 1 s of CPU.
 */
export async function createKubernetesExecutorFor(config: KubernetesExecutorConfig, log: Logger, store: ObjectStore): Promise<Executor> {
  const { createKubernetesExecutor } = await import('@finevideo/k8s');
  return createKubernetesExecutor(config, log, undefined, store);
}
