export { startFakeKubernetes, type FakeKubernetes, type FakeKubernetesFaults, type FakeKubernetesOptions } from './server.js';
export type { FakeJob, FakePod } from './objects.js';
export type { PodCommand } from './controller.js';
export { containerEngineAvailable, podmanRunArgs, memoryBytes, PodmanPodRunner, type ContainerExit, type ContainerRunnerOptions } from './containers.js';
