import type { KubernetesExecutorConfig, Logger } from '@finevideo/core';
import type { Executor } from '@finevideo/runtime';
import { createKubernetesExecutor } from '@finevideo/k8s';

/** The Kubernetes executor: Indexed Jobs of each stage's image, kubeconfig loaded the standard way. */
export function createKubernetesExecutorFor(config: KubernetesExecutorConfig, log: Logger): Executor {
  return createKubernetesExecutor(config, log);
}
