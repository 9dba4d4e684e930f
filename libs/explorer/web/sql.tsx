import { useState } from 'preact/hooks';
import { getJson } from './api';

interface SqlAnswer {
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
  limits: { maxRows: number; timeoutMs: number };
}

const EXAMPLE = 'SELECT category, count(*) AS videos, round(sum(duration) / 3600, 2) AS hours\nFROM videos\nGROUP BY ALL\nORDER BY hours DESC';

/** The read-only SQL box: one SELECT over the index's `videos` table, answered by the server's sandboxed DuckDB. */
export function SqlPage(props: { params: URLSearchParams }) {
  const [text, setText] = useState(props.params.get('q') ?? EXAMPLE);
  const [answer, setAnswer] = useState<SqlAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const run = async () => {
    setRunning(true);
    setError(null);
    try {
      setAnswer(await getJson<SqlAnswer>(`/api/sql?q=${encodeURIComponent(text)}`));
      location.replace(`#/sql?${new URLSearchParams({ q: text })}`);
    } catch (e) {
      setAnswer(null);
      setError((e as Error).message);
    } finally {
      setRunning(false);
    }
  };
  return (
    <section>
      <h1 tabIndex={-1}>Query</h1>
      <p class="muted small">
        One SELECT over <span class="mono">videos</span> (video_id, title, channel, duration, category, top_level, last_stage, status, reason, selected):
        DuckDB on a read-only copy of the index, no files, no extensions, at most 1,000 rows and 5 s.
      </p>
      <form onSubmit={(e) => { e.preventDefault(); void run(); }}>
        <label class="sql-label">SQL<textarea name="sql" class="sql mono" rows={6} value={text} onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void run(); }} /></label>
        <button type="submit" disabled={running}>{running ? 'Running…' : 'Run (Ctrl+Enter)'}</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {answer && (
        <>
          <p class="small muted" id="sql-count">{answer.rows.length} row{answer.rows.length === 1 ? '' : 's'}{answer.truncated ? ` (stopped at ${answer.limits.maxRows})` : ''}</p>
          <div class="table-wrap">
            <table class="grid compact" aria-label="Query result">
              <thead><tr>{answer.columns.map((c) => <th scope="col" key={c}>{c}</th>)}</tr></thead>
              <tbody>{answer.rows.map((r, i) => <tr key={i}>{r.map((v, j) => <td key={j}>{v === null ? <span class="muted">NULL</span> : typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>)}</tr>)}</tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
