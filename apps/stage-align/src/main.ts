import { runWorkerMain } from '@finevideo/runtime';
import { alignStage } from '@finevideo/stages/align';

runWorkerMain(alignStage);
