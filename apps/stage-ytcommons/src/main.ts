import { runWorkerMain } from '@finevideo/runtime';
import { ytcommonsStage } from '@finevideo/stages/ytcommons';

runWorkerMain(ytcommonsStage);
