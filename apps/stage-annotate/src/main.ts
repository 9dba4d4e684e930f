import { runWorkerMain } from '@finevideo/runtime';
import { annotateStage } from '@finevideo/stages/annotate';

runWorkerMain(annotateStage);
