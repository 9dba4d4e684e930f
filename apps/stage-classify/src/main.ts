import { runWorkerMain } from '@finevideo/runtime';
import { classifyStage } from '@finevideo/stages/classify';

runWorkerMain(classifyStage);
