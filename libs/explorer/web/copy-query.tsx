import { useState } from 'preact/hooks';

/**
 * "Copy as DuckDB query": the list's filters, columns and order as one SQL query over the files themselves
 * (the run's parts or the dataset's parquet, on disk or s3://), put on the clipboard and shown.
 */
export function CopyQuery(props: { query: string }) {
  const [sql, setSql] = useState<string | null>(null);
  const [said, setSaid] = useState<string | null>(null);
  const copy = async () => {
    try {
      const response = await fetch(`/api/query.sql?${props.query}`);
      const text = await response.text();
      if (!response.ok) throw new Error(`query: HTTP ${response.status} ${text.slice(0, 200)}`);
      setSql(text);
      await navigator.clipboard.writeText(text);
      setSaid('Copied: run it with the duckdb CLI or any DuckDB client (s3:// files need httpfs and an S3 secret)');
    } catch (e) {
      setSaid(`Could not copy: ${(e as Error).message}`);
    }
  };
  return (
    <>
      <button type="button" onClick={copy}>Copy as DuckDB query</button>
      {said && <span class="small muted" role="status">{said}</span>}
      {sql && (
        <details class="copied-query">
          <summary>The query</summary>
          <pre class="mono small" aria-label="DuckDB query of this list">{sql}</pre>
        </details>
      )}
    </>
  );
}
