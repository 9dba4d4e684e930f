import { runWorkerMain } from '@finevideo/runtime';
import { selectStage } from '@finevideo/stages/select';

runWorkerMain(selectStage);
