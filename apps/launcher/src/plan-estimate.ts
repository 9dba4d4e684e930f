import { parseOrThrow, type ObjectStore, type PipelineStage } from '@finevideo/core';
import { stageItems, type StagePlan } from '@finevideo/runtime';
import { stageByType } from '@finevideo/stages';

/**
 * A planned stage's own estimate (annotate: the expected cost from the selected hours and the price
 * table), read from its work lists before any chunk runs; undefined for stages without one.
 */
export async function planEstimate(store: ObjectStore, runId: string, stageCfg: PipelineStage, plan: StagePlan): Promise<string | undefined> {
  const stage = stageByType(stageCfg.stage);
  if (stage.kind !== 'map' || !stage.planEstimate) return undefined;
  const params: unknown = parseOrThrow(stage.params, stageCfg.params, `params of stage ${stageCfg.name}`);
  return stage.planEstimate(stageItems(store, runId, stageCfg.name, plan), params);
}
