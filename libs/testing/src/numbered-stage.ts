import { z } from 'zod';
import type { ItemContext, MapStage, Outcome, Row } from '@finevideo/core';

/** An item of a numbered test stage: its place in the list. */
export interface NumberedItem {
  n: number;
}

/**
 * A map stage for tests and benchmarks that lists items n = 0..items-1 and does what `processItem`
 * says with each: the stage contract's boilerplate (no params, one CPU, one item at a time) in one place.
 */
export function numberedStage<O extends Row = Row>(spec: {
  name: string;
  description: string;
  items: number;
  itemsPerChunk: number;
  memory?: string;
  processItem: (item: NumberedItem, ctx: ItemContext<Record<string, never>>) => Promise<Outcome<O>>;
}): MapStage<Record<string, never>, NumberedItem, O> {
  return {
    name: spec.name, kind: 'map', description: spec.description, image: `finevideo/stage-${spec.name}`,
    resources: { pool: 'cpu', cpu: '1', memory: spec.memory ?? '1Gi' },
    params: z.strictObject({}),
    defaultItemsPerChunk: spec.itemsPerChunk,
    itemConcurrency: () => 1,
    async *listItems() {
      for (let n = 0; n < spec.items; n++) yield { n };
    },
    itemKey: (item) => `n=${item.n}`,
    processItem: spec.processItem,
  };
}
