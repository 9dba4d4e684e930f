import { runWorkerMain } from '@finevideo/runtime';
import { exportStage } from '@finevideo/stages/export';

runWorkerMain(exportStage);
