import { runWorkerMain } from '@finevideo/runtime';
import { downloadStage } from '@finevideo/stages/download';
runWorkerMain(downloadStage);
