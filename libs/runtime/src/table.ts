import { runLayout, type ObjectStore, type Row, type StageTable } from '@finevideo/core';
import { readParquetRows, type ReadParquetOptions } from '@finevideo/storage';

/** A finished stage's table.json, or undefined while the stage is not done. */
export async function readStageTable(store: ObjectStore, runId: string, stageName: string): Promise<StageTable | undefined> {
  const text = await store.getText(runLayout(runId).stage(stageName).table);
  if (text === undefined) return undefined;
  const table = JSON.parse(text) as StageTable;
  if (!Array.isArray(table.parts)) throw new Error(`stage ${stageName}: expected table.json to list its parts, got ${JSON.stringify(text.slice(0, 200))}`);
  return table;
}

/** Every row of a finished stage (kept, dropped with a row, errors), part by part in chunk order. */
export async function* stageRows(store: ObjectStore, runId: string, stageName: string, options: ReadParquetOptions = {}): AsyncIterable<Row> {
  const table = await readStageTable(store, runId, stageName);
  if (!table) throw new Error(`stage ${stageName} of run ${runId}: expected a finished stage (table.json), got none`);
  for (const key of table.parts) yield* readParquetRows(store, key, options);
}

/** Kept rows of a finished stage: the next stage's input. */
export function keptRows(store: ObjectStore, runId: string, stageName: string, columns?: readonly string[]): AsyncIterable<Row> {
  return stageRows(store, runId, stageName, { where: `status = 'kept'`, ...(columns ? { columns: [...columns] } : {}) });
}
