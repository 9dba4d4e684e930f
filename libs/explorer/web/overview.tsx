import { useEffect, useState } from 'preact/hooks';
import { getJson, type RunView, type StageState } from './api';
import { BarChart, COLORS } from './chart';
import { bytes, count, hours } from './format';

const REFRESH_MS = 5000;

/** Counters that are money or tokens: the cost columns (annotate reports dollars and tokens per stage). */
const isDollars = (k: string) => /usd|dollar|cost/i.test(k);
const isTokens = (k: string) => /token/i.test(k);

function reasonsOf(s: StageState, kind: 'dropped' | 'error') {
  return Object.entries(s.stats.reasons).filter(([k]) => k.startsWith(`${kind}:`)).map(([k, n]) => [k.slice(kind.length + 1), n] as const).sort((a, b) => b[1] - a[1]);
}

const DROP_SHADES = ['#c05621', '#dd6b20', '#ed8936', '#f6ad55', '#fbd38d', '#9c4221', '#7b341e'];
const ERROR_SHADES = ['#c53030', '#e53e3e', '#fc8181', '#9b2c2c', '#feb2b2', '#742a2a', '#63171b'];
/** Reasons shown as their own bar segments; the rest of a kind are summed as "other". */
const SEGMENTS_PER_KIND = 6;

/** The funnel's bar segments: kept, then dropped by reason, then errors by reason (items from markers, or hours from the index). */
function funnelDatasets(stages: StageState[], unit: 'videos' | 'hours', hoursOf: (stage: string, status: string) => number, funnelHours: RunView['funnelHours']) {
  const datasets: { label: string; data: number[]; backgroundColor: string }[] = [
    { label: 'kept', data: stages.map((s) => (unit === 'videos' ? s.stats.kept : Number(hoursOf(s.stage, 'kept').toFixed(3)))), backgroundColor: COLORS.kept },
  ];
  for (const [kind, status, shades] of [['dropped', 'dropped', DROP_SHADES], ['error', 'error', ERROR_SHADES]] as const) {
    const value = (s: StageState, reason: string) =>
      unit === 'videos' ? (s.stats.reasons[`${kind}:${reason}`] ?? 0) : funnelHours.filter((f) => f.stage === s.stage && f.status === status && f.reason === reason).reduce((a, f) => a + f.hours, 0);
    const totals = new Map<string, number>();
    for (const s of stages) for (const [reason] of reasonsOf(s, kind)) totals.set(reason, (totals.get(reason) ?? 0) + value(s, reason));
    const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([r]) => r);
    const shown = ranked.slice(0, SEGMENTS_PER_KIND);
    const rest = ranked.slice(SEGMENTS_PER_KIND);
    shown.forEach((reason, i) => datasets.push({ label: `${kind === 'error' ? 'error' : 'dropped'}: ${reason}`, data: stages.map((s) => Number(value(s, reason).toFixed(3))), backgroundColor: shades[i % shades.length]! }));
    if (rest.length) datasets.push({ label: `${kind === 'error' ? 'error' : 'dropped'}: other`, data: stages.map((s) => Number(rest.reduce((a, r) => a + value(s, r), 0).toFixed(3))), backgroundColor: shades[shades.length - 1]! });
  }
  return datasets;
}

function ReasonList(props: { stage: string; kind: 'dropped' | 'error'; reasons: (readonly [string, number])[] }) {
  if (!props.reasons.length) return <span class="muted">–</span>;
  return (
    <ul class="reasons">
      {props.reasons.slice(0, 8).map(([reason, n]) => (
        <li key={reason}>
          <a href={`#/dataset?stage=${encodeURIComponent(props.stage)}&status=${props.kind}&reason=${encodeURIComponent(reason)}`}>{reason}</a> <span class="n">{count(n)}</span>
        </li>
      ))}
      {props.reasons.length > 8 && <li class="muted">… {props.reasons.length - 8} more</li>}
    </ul>
  );
}

function Progress(props: { s: StageState }) {
  const { s } = props;
  if (!s.planned) return <span class="muted">not planned</span>;
  const pct = s.chunks ? Math.round((s.done / s.chunks) * 100) : 100;
  return (
    <div class="progress-cell">
      <div class="bar" role="progressbar" aria-valuemin={0} aria-valuemax={s.chunks} aria-valuenow={s.done} aria-label={`${s.stage} chunks done`}>
        <span style={{ width: `${pct}%` }} class={s.failed ? 'failed' : s.sealed ? 'sealed' : ''} />
      </div>
      <span class="small">{s.done}/{s.chunks}{s.failed ? <b class="bad"> {s.failed} failed</b> : null}{s.sealed ? ' · table' : ''}</span>
    </div>
  );
}

function AnomalyReport(props: { report: unknown }) {
  const r = props.report;
  // Any shape the anomaly stage writes: rule -> count, or rule -> {count, examples|ids}; ids link to their page.
  const rules = typeof r === 'object' && r !== null ? Object.entries((r as Record<string, unknown>).rules ?? r) : [];
  const entries = rules.map(([rule, v]) => {
    if (typeof v === 'number') return { rule, n: v, ids: [] as string[] };
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      const n = Number(o.count ?? o.videos ?? o.n ?? NaN);
      const ids = (o.examples ?? o.exampleIds ?? o.ids ?? []) as unknown[];
      return { rule, n, ids: ids.filter((x): x is string => typeof x === 'string' && /^[A-Za-z0-9_-]{11}$/.test(x)).slice(0, 6) };
    }
    return { rule, n: NaN, ids: [] as string[], text: JSON.stringify(v) };
  });
  if (!entries.length) return <pre class="json">{JSON.stringify(r, null, 2)}</pre>;
  return (
    <table class="grid compact">
      <thead><tr><th scope="col">rule</th><th scope="col" class="num">videos</th><th scope="col">examples</th></tr></thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.rule}>
            <td>{e.rule}</td>
            <td class="num">{Number.isNaN(e.n) ? ('text' in e ? e.text : '–') : count(e.n)}</td>
            <td>{e.ids.map((id) => <a key={id} class="id" href={`#/video/${id}`}>{id}</a>)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Overview() {
  const [run, setRun] = useState<RunView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unit, setUnit] = useState<'videos' | 'hours'>('videos');
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const load = async () => {
      try {
        const view = await getJson<RunView>('/api/run', controller.signal);
        setRun(view);
        setError(null);
        // A run still going refreshes itself; a complete one is read once.
        if (!view.complete) timer = setTimeout(load, REFRESH_MS);
      } catch (e) {
        if (!controller.signal.aborted) {
          setError((e as Error).message);
          timer = setTimeout(load, REFRESH_MS * 2);
        }
      }
    };
    void load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, []);
  if (!run) return <section><h1 tabIndex={-1}>Run overview</h1>{error ? <p class="error" role="alert">{error}</p> : <p class="muted">Loading the run…</p>}</section>;
  const stages = run.stages;
  const hoursOf = (stage: string, status: string) => run.funnelHours.filter((f) => f.stage === stage && f.status === status).reduce((a, f) => a + f.hours, 0);
  const counterKeys = [...new Set(stages.flatMap((s) => Object.keys(s.stats.counters)))];
  const costKeys = counterKeys.filter((k) => isDollars(k) || isTokens(k));
  const totalDollars = stages.reduce((a, s) => a + Object.entries(s.stats.counters).filter(([k]) => isDollars(k)).reduce((b, [, v]) => b + v, 0), 0);
  const doneChunks = stages.reduce((a, s) => a + s.done, 0);
  const allChunks = stages.reduce((a, s) => a + s.chunks, 0);
  return (
    <section>
      <div class="title-row">
        <h1 tabIndex={-1}>Run <span class="mono">{run.runId}</span></h1>
        <span class={run.complete ? 'badge ok' : 'badge live'} aria-live="polite">{run.complete ? 'complete' : `running · ${doneChunks}/${allChunks} chunks · refreshes every ${REFRESH_MS / 1000} s`}</span>
      </div>
      <p class="muted small">
        pipeline <b>{run.name}</b> · {run.executor} executor · created {new Date(run.createdAt).toLocaleString()} · <span class="mono">{run.ref}</span>
        {error && <span class="error"> · {error}</span>}
      </p>

      <div class="cards">
        <div class="card"><div class="big">{count(run.indexedVideos)}</div><div class="muted">videos seen</div></div>
        {stages.length > 0 && <div class="card"><div class="big">{count(stages.at(-1)!.stats.kept)}</div><div class="muted">kept by {stages.at(-1)!.stage}</div></div>}
        <div class="card"><div class="big">{hours(hoursOf(stages.at(-1)?.stage ?? '', 'kept'))} h</div><div class="muted">hours kept at the end</div></div>
        <div class="card"><div class="big">{totalDollars ? `$${totalDollars.toFixed(2)}` : '$0'}</div><div class="muted">model cost so far</div></div>
      </div>

      <h2>Funnel</h2>
      <div class="toggle" role="group" aria-label="Funnel unit">
        <button type="button" aria-pressed={unit === 'videos'} onClick={() => setUnit('videos')}>Items</button>
        <button type="button" aria-pressed={unit === 'hours'} onClick={() => setUnit('hours')}>Hours</button>
      </div>
      <BarChart
        label={`Funnel per stage in ${unit === 'videos' ? 'items' : 'hours'}: kept, dropped by reason and errors by reason; the table below has the same figures`}
        height={Math.max(180, stages.length * 44 + 60)}
        config={{
          type: 'bar',
          data: {
            labels: stages.map((s) => s.stage),
            datasets: funnelDatasets(stages, unit, hoursOf, run.funnelHours),
          },
          options: { indexAxis: 'y', scales: { x: { stacked: true, title: { display: true, text: unit === 'videos' ? 'items' : 'hours' } }, y: { stacked: true } } },
        }}
      />

      <div class="table-wrap">
        <table class="grid" aria-label="Stages">
          <thead>
            <tr>
              <th scope="col">stage</th><th scope="col">chunks</th><th scope="col" class="num">in</th><th scope="col" class="num">kept</th>
              <th scope="col" class="num">hours in</th><th scope="col" class="num">hours kept</th><th scope="col">dropped by reason</th><th scope="col">errors by reason</th>
              {costKeys.length > 0 && <th scope="col">cost</th>}
            </tr>
          </thead>
          <tbody>
            {stages.map((s) => (
              <tr key={s.stage}>
                <th scope="row">{s.stage}{s.type !== s.stage && <div class="muted small">{s.type}</div>}</th>
                <td><Progress s={s} /></td>
                <td class="num">{count(s.stats.items)}</td>
                <td class="num">{count(s.stats.kept)}</td>
                <td class="num">{hours(run.funnelHours.filter((f) => f.stage === s.stage).reduce((a, f) => a + f.hours, 0))}</td>
                <td class="num">{hours(hoursOf(s.stage, 'kept'))}</td>
                <td><ReasonList stage={s.stage} kind="dropped" reasons={reasonsOf(s, 'dropped')} /></td>
                <td><ReasonList stage={s.stage} kind="error" reasons={reasonsOf(s, 'error')} /></td>
                {costKeys.length > 0 && (
                  <td class="small">
                    {costKeys.filter((k) => s.stats.counters[k] !== undefined).map((k) => (
                      <div key={k}>{k}: {isDollars(k) ? `$${s.stats.counters[k]!.toFixed(2)}` : count(s.stats.counters[k]!)}</div>
                    ))}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {counterKeys.filter((k) => !costKeys.includes(k)).length > 0 && (
        <p class="small muted">
          other counters: {stages.flatMap((s) => Object.entries(s.stats.counters).filter(([k]) => !costKeys.includes(k)).map(([k, v]) => `${s.stage} ${k}=${count(v)}`)).join(' · ')}
        </p>
      )}

      <h2>Anomaly report</h2>
      {run.anomalies.length ? run.anomalies.map((a) => <div key={a.stage}><h3>{a.stage}</h3><AnomalyReport report={a.report} /></div>) : <p class="muted">No anomaly report yet (the anomaly stage writes artifacts/anomalies.json).</p>}

      {run.reports.map((r) => {
        const report = r.report as { targetHours?: number; selectedHours?: number; videos?: number; notSelected?: Record<string, number> };
        return (
          <div key={r.stage}>
            <h2>Selection</h2>
            <p>
              {count(report.videos ?? 0)} videos selected, {hours(report.selectedHours ?? 0)} of the {report.targetHours} target hours.{' '}
              {report.notSelected && Object.keys(report.notSelected).length > 0 && <span class="muted">Not selected: {Object.entries(report.notSelected).map(([k, v]) => `${k} ${v}`).join(', ')}. </span>}
              <a href="#/dataset">Categories and videos →</a>
            </p>
          </div>
        );
      })}

      <h2>Export</h2>
      {run.export ? (
        <p>
          <span class="mono">{run.export.prefix}</span>: {run.export.files.filter((f) => f.key.endsWith('.parquet')).length} parquet file(s), {bytes(run.export.bytes)}
          {run.export.card ? ', dataset card README.md' : ', no card yet'}.
        </p>
      ) : <p class="muted">Not exported yet (the export stage writes export/{run.runId}/).</p>}
      <p class="muted small">Refreshed {new Date(run.refreshedAt).toLocaleTimeString()}.</p>
    </section>
  );
}
