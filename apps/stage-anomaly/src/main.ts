import { runWorkerMain } from '@finevideo/runtime';
import { anomalyStage } from '@finevideo/stages/anomaly';

runWorkerMain(anomalyStage);
