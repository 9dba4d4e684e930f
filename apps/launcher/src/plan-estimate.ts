import { parseOrThrow, runLayout, type ObjectStore, type PipelineStage, type Row } from '@finevideo/core';
import type { StagePlan } from '@finevideo/runtime';
import { readJsonl } from '@finevideo/storage';
import { stageByType } from '@finevideo/stages';

/**
 * A planned stage's own estimate (annotate: the expected cost from the selected hours and the price
 * table), read from its work lists before any chunk runs; undefined for stages without one.
 */
export async function planEstimate(store: ObjectStore, runId: string, stageCfg: PipelineStage, plan: StagePlan): Promise<string | undefined> {
  const stage = stageByType(stageCfg.stage);
  if (stage.kind !== 'map' || !stage.planEstimate) return undefined;
  const params: unknown = parseOrThrow(stage.params, stageCfg.params, `params of stage ${stageCfg.name}`);
  const layout = runLayout(runId).stage(stageCfg.name);
  async function* items(): AsyncIterable<Row> {
    for (const range of plan.ranges) yield* readJsonl(store, layout.chunk(range.index));
  }
  return stage.planEstimate(items(), params);
}
