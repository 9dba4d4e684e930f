import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StatementType, type DuckDBInstance } from '@duckdb/node-api';
import { duckDbMemoryLimit, plain, sqlString } from '@finevideo/storage';
import type { VideoTable } from './video-table.js';

/** A query the SQL box will not run (the reason says which rule), answered 400. */
export class SqlRefused extends Error {}

export interface SqlAnswer {
  columns: string[];
  rows: unknown[][];
  /** Whether rows stopped at the row limit (there were more). */
  truncated: boolean;
}

export const SQL_LIMITS = { maxRows: 1000, timeoutMs: 5000, maxChars: 10_000 } as const;

/**
 * The read-only SQL box: the index's `videos` table copied into a DuckDB database file of its own,
 * opened READ_ONLY with external access disabled (no file, URL or other database can be read),
 * extension loading and installing off and the configuration locked; one SELECT per request, a row
 * limit and a time limit (the query is interrupted). The copy follows the index when it is rebuilt.
 */
export class SqlBox {
  private instance: DuckDBInstance | undefined;
  private copied = -1;
  private generation = 0;
  private busy: Promise<void> | undefined;

  constructor(private readonly index: VideoTable, private readonly dir: string) {}

  private async sandbox(): Promise<DuckDBInstance> {
    if (this.instance && this.copied === this.index.version) return this.instance;
    await this.busy;
    if (this.instance && this.copied === this.index.version) return this.instance;
    this.instance?.closeSync();
    this.instance = undefined;
    const version = this.index.version;
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `sql-box-${++this.generation}.duckdb`);
    rmSync(file, { force: true });
    const stages = this.index.stageNames.map((name, i) => `WHEN ${i} THEN ${sqlString(name)}`).join(' ');
    await this.index.db.withConnection(async (c) => {
      await c.run(`ATTACH ${sqlString(file)} AS sql_box`);
      try {
        await c.run(`CREATE TABLE sql_box.videos AS SELECT video_id, title, channel, duration, category, top_level,
          CASE pos ${stages} END AS last_stage, status, reason, selected FROM videos`);
      } finally {
        await c.run('DETACH sql_box');
      }
    });
    const { DuckDBInstance } = await import('@duckdb/node-api');
    this.instance = await DuckDBInstance.create(file, {
      access_mode: 'READ_ONLY', enable_external_access: 'false', autoload_known_extensions: 'false', autoinstall_known_extensions: 'false',
      allow_community_extensions: 'false', memory_limit: duckDbMemoryLimit(), threads: '1', lock_configuration: 'true',
    });
    this.copied = version;
    return this.instance;
  }

  async query(sql: string): Promise<SqlAnswer> {
    if (sql.length > SQL_LIMITS.maxChars) throw new SqlRefused(`sql: expected at most ${SQL_LIMITS.maxChars} characters, got ${sql.length}`);
    const connection = await (await this.sandbox()).connect();
    const timer = setTimeout(() => connection.interrupt(), SQL_LIMITS.timeoutMs);
    try {
      const statements = await connection.extractStatements(sql).catch((e: Error) => {
        throw new SqlRefused(`sql: ${e.message}`);
      });
      if (statements.count !== 1) throw new SqlRefused(`sql: expected one statement, got ${statements.count}`);
      const prepared = await statements.prepare(0).catch((e: Error) => {
        throw new SqlRefused(`sql: ${e.message}`);
      });
      if (prepared.statementType !== StatementType.SELECT) {
        throw new SqlRefused(`sql: expected a SELECT (the box is read-only), got ${StatementType[prepared.statementType] ?? prepared.statementType}`);
      }
      const result = await prepared.stream();
      const rows: unknown[][] = [];
      let truncated = false;
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        for (const row of chunk.getRows()) {
          if (rows.length >= SQL_LIMITS.maxRows) {
            truncated = true;
            break;
          }
          rows.push(row.map((v) => plain(v)));
        }
        if (truncated) break;
      }
      return { columns: result.columnNames(), rows, truncated };
    } catch (e) {
      if (e instanceof SqlRefused) throw e;
      const message = (e as Error).message;
      throw new SqlRefused(/interrupt/i.test(message) ? `sql: stopped after the time limit of ${SQL_LIMITS.timeoutMs / 1000} s` : `sql: ${message}`);
    } finally {
      clearTimeout(timer);
      connection.closeSync();
    }
  }

  close(): void {
    this.instance?.closeSync();
    this.instance = undefined;
  }
}
