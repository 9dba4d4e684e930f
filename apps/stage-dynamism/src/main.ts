import { runWorkerMain } from '@finevideo/runtime';
import { dynamismStage } from '@finevideo/stages/dynamism';
runWorkerMain(dynamismStage);
