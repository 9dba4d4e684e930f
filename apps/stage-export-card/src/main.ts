import { runWorkerMain } from '@finevideo/runtime';
import { exportCardStage } from '@finevideo/stages/export-card';

runWorkerMain(exportCardStage);
