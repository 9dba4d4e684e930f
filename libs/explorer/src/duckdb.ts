import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { duckDbMemoryLimit, plain } from '@finevideo/storage';

/**
 * The explorer's own DuckDB database: in memory (spilling to a private folder), holding the video
 * index it builds from the run's parquet parts. Queries take bound parameters, so request values
 * (a search text, a channel) never become SQL.
 */
export class ExplorerDb {
  private instance: Promise<DuckDBInstance> | undefined;
  private spill: string | undefined;

  private db(): Promise<DuckDBInstance> {
    this.instance ??= import('@duckdb/node-api').then(({ DuckDBInstance }) => {
      this.spill = mkdtempSync(join(tmpdir(), 'finevideo-explore-duckdb-'));
      return DuckDBInstance.create(':memory:', {
        memory_limit: duckDbMemoryLimit(),
        threads: process.env.FINEVIDEO_DUCKDB_THREADS ?? '2',
        temp_directory: this.spill,
      });
    });
    return this.instance;
  }

  /** A connection of its own, for a streamed result; the caller closes it. */
  async connect(): Promise<DuckDBConnection> {
    return (await this.db()).connect();
  }

  async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.connect();
    try {
      return await fn(connection);
    } finally {
      connection.closeSync();
    }
  }

  /** Rows as plain JSON (bigints to numbers, dates to ISO strings). */
  async all(sql: string, values: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.withConnection(async (c) => {
      const reader = await c.runAndReadAll(sql, values);
      return reader.getRowObjectsJS().map((r) => plain(r) as Record<string, unknown>);
    });
  }

  async run(sql: string, values: DuckDBValue[] = []): Promise<void> {
    await this.withConnection(async (c) => {
      await c.run(sql, values);
    });
  }

  async close(): Promise<void> {
    if (this.instance) {
      const db = await this.instance;
      db.closeSync();
      this.instance = undefined;
    }
    if (this.spill) rmSync(this.spill, { recursive: true, force: true });
  }
}
