import { runWorkerMain } from '@finevideo/runtime';
import { worddensityStage } from '@finevideo/stages/worddensity';

runWorkerMain(worddensityStage);
