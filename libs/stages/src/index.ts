import type { AnyStage } from '@finevideo/core';
import { downloadStage } from './download/index.js';
import { dynamismStage } from './dynamism/index.js';
import { classifyStage } from './classify/index.js';
import { selectStage } from './select/index.js';
import { worddensityStage } from './worddensity/index.js';
import { ytcommonsStage } from './ytcommons/index.js';
import { exportCardStage, exportStage } from './export/index.js';
import { annotateStage } from './annotate/index.js';
import { alignStage } from './align/index.js';
import { anomalyStage } from './anomaly/index.js';

/** Every stage type the launcher can plan, by type name. Executors never import this. */
export const stageRegistry: Record<string, AnyStage> = {
  // stage registrations (one line each)
  ytcommons: ytcommonsStage,
  worddensity: worddensityStage,
  download: downloadStage,
  dynamism: dynamismStage,
  classify: classifyStage,
  select: selectStage,
  export: exportStage,
  'export-card': exportCardStage,
  annotate: annotateStage,
  align: alignStage,
  anomaly: anomalyStage,
};

export function stageByType(type: string): AnyStage {
  const stage = stageRegistry[type];
  if (!stage) {
    throw new Error(`stage type: expected one of ${Object.keys(stageRegistry).sort().join(', ') || '(none registered)'}, got ${JSON.stringify(type)}`);
  }
  return stage;
}
