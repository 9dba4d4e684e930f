import { ConfigError, type KubernetesExecutorConfig, type Logger } from '@finevideo/core';
import type { Executor } from '@finevideo/runtime';

/** The Kubernetes executor (libs/k8s) is wired here once it lands. */
export function createKubernetesExecutorFor(_config: KubernetesExecutorConfig, _log: Logger): Executor {
  throw new ConfigError('executor: expected "local", got "kubernetes" (the Kubernetes executor is not wired into this build yet)');
}
