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

/** Whether the index holds rows for a reason (errors are counted by class: "not-found" for "not-found: HTTP 404"). */
const reasonMatches = (reason: string | null, wanted: string) => reason !== null && (reason === wanted || reason.startsWith(`${wanted}:`));

function ReasonList(props: { stage: string; kind: 'dropped' | 'error'; reasons: (readonly [string, number])[]; run: RunView }) {
  if (!props.reasons.length) return <span class="muted">–</span>;
  const { stage, kind, run } = props;
  return (
    <ul class="reasons">
      {props.reasons.slice(0, 8).map(([reason, n]) => {
        const indexed = run.funnelHours.some((f) => f.stage === stage && f.status === kind && reasonMatches(f.reason, reason));
        const items = run.itemErrors.filter((e) => e.stage === stage && e.status === kind && reasonMatches(e.reason, reason));
        if (indexed) {
          return (
            <li key={reason}>
              <a href={`#/dataset?stage=${encodeURIComponent(stage)}&status=${kind}&reason=${encodeURIComponent(reason)}`}>{reason}</a> <span class="n">{count(n)}</span>
            </li>
          );
        }
        return (
          <li key={reason}>
            {reason} <span class="n">{count(n)}</span>
            {items.length ? (
              <ul class="items small">{items.slice(0, 5).map((e, i) => <li key={i}><span class="mono">{e.item ?? 'an item'}</span>{e.reason && e.reason !== reason ? `: ${e.reason.replace(new RegExp(`^${reason}:\\s*`), '').slice(0, 200)}` : ''}</li>)}</ul>
            ) : (
              <div class="muted small">{kind === 'dropped' ? `${stage} counts these without writing a row per video, so they have no list.` : 'Its rows name no video.'}</div>
            )}
          </li>
        );
      })}
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

interface RuleReport {
  reason?: string;
  enabled?: boolean;
  thresholds?: Record<string, unknown>;
  violations?: number;
  dropped?: number;
  skipped?: number;
  examples?: ({ video_id?: string; detail?: string } | string)[];
}

/** Why a rule did not apply to a video, as the anomaly stage decides it. */
const SKIP_WHY: Record<string, string> = {
  qa: 'annotated by the baseline annotator, which writes no Q&A',
  placeholder: 'annotated by the baseline annotator, whose free text is empty by design',
  duration: 'no duration in the video\'s metadata',
};

const isVideoIdText = (x: unknown): x is string => typeof x === 'string' && /^[A-Za-z0-9_-]{11}$/.test(x);

/** artifacts/anomalies.json as the anomaly stage writes it: per rule, violations, drops, skips and why, thresholds, examples. */
function AnomalyReport(props: { report: unknown }) {
  const r = (typeof props.report === 'object' && props.report !== null ? props.report : {}) as { videos?: number; kept?: number; dropped?: number; errors?: number; rules?: Record<string, RuleReport> };
  const rules = Object.entries(r.rules ?? {});
  if (!rules.length) return <pre class="json">{JSON.stringify(props.report, null, 2)}</pre>;
  const videos = r.videos ?? 0;
  return (
    <>
      <p class="small">{count(videos)} videos judged: {count(r.kept ?? 0)} kept, {count(r.dropped ?? 0)} dropped, {count(r.errors ?? 0)} error rows.</p>
      <div class="table-wrap">
        <table class="grid compact anomaly" aria-label="Anomaly rules">
          <thead><tr><th scope="col">rule</th><th scope="col" class="num">broke it</th><th scope="col" class="num">dropped for it</th><th scope="col">not applied</th><th scope="col">thresholds</th><th scope="col">examples</th></tr></thead>
          <tbody>
            {rules.map(([rule, v]) => {
              const examples = (v.examples ?? []).map((e) => (typeof e === 'string' ? { video_id: e, detail: '' } : e)).filter((e) => isVideoIdText(e.video_id));
              const skipped = v.skipped ?? 0;
              return (
                <tr key={rule} data-rule={rule}>
                  <th scope="row">{rule}</th>
                  <td class="num">{v.enabled === false ? '–' : count(v.violations ?? 0)}</td>
                  <td class="num">{v.enabled === false ? '–' : v.dropped ? <a href={`#/dataset?status=dropped&reason=${encodeURIComponent(v.reason ?? `anomaly:${rule}`)}`}>{count(v.dropped)}</a> : '0'}</td>
                  <td class="small">{v.enabled === false ? 'disabled by the run\'s params' : skipped ? `skipped for ${count(skipped)} of ${count(videos)} videos${SKIP_WHY[rule] ? `: ${SKIP_WHY[rule]}` : ''}` : '–'}</td>
                  <td class="small mono">{Object.entries(v.thresholds ?? {}).map(([k, t]) => `${k}=${JSON.stringify(t)}`).join(', ') || '–'}</td>
                  <td class="small">{examples.length ? examples.slice(0, 5).map((e) => <div key={e.video_id}><a class="id" href={`#/video/${e.video_id}`}>{e.video_id}</a>{e.detail}</div>) : '–'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
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
        <h1 tabIndex={-1}>{run.kind === 'dataset' ? 'Dataset' : 'Run'} <span class="mono">{run.runId}</span></h1>
        <span class={run.complete ? 'badge ok' : 'badge live'} aria-live="polite">{run.complete ? 'complete' : `running · ${doneChunks}/${allChunks} chunks · refreshes every ${REFRESH_MS / 1000} s`}</span>
      </div>
      <p class="muted small">
        {run.kind === 'dataset'
          ? <>{run.layout === 'flat' ? 'FineVideo\'s flat layout (data/train-*.parquet, indexed from the json column)' : 'an export folder on its own (its index.parquet and shards)'} · <span class="mono">{run.ref}</span></>
          : <>pipeline <b>{run.name}</b> · {run.executor} executor · created {new Date(run.createdAt ?? '').toLocaleString()} · <span class="mono">{run.ref}</span></>}
        {error && <span class="error"> · {error}</span>}
      </p>

      <div class="cards">
        <div class="card" data-card="seen">
          <div class="big">{count(run.headline.videosSeen)}</div><div class="muted">videos seen{run.headline.firstStage ? ` by ${run.headline.firstStage}` : ''}</div>
          {run.headline.itemsWithoutVideo > 0 && <div class="small muted">and {count(run.headline.itemsWithoutVideo)} error item(s) naming no video</div>}
        </div>
        {run.headline.endStage && (
          <div class="card" data-card="end">
            <div class="big">{count(run.headline.endKept)}</div>
            <div class="muted">{run.headline.endIsFinal ? 'kept at the end' : 'kept so far'} ({run.headline.endStage})</div>
          </div>
        )}
        <div class="card" data-card="hours"><div class="big">{hours(run.headline.endHours)} h</div><div class="muted">hours {run.headline.endIsFinal ? 'kept at the end' : 'kept so far'}</div></div>
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
            labels: stages.map((s) => (s.runLevel ? `${s.stage} (run-level)` : s.stage)),
            datasets: funnelDatasets(stages, unit, hoursOf, run.funnelHours),
          },
          options: { indexAxis: 'y', scales: { x: { stacked: true, title: { display: true, text: unit === 'videos' ? 'items' : 'hours' } }, y: { stacked: true } } },
        }}
      />

      <div class="table-wrap">
        <table class="grid stack" aria-label="Stages">
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
                <th scope="row">{s.stage}{s.type !== s.stage && <div class="muted small">{s.type}</div>}{s.runLevel && <div class="badge run-level" title="Its output is about the whole run (the dataset card), not per video">run-level</div>}</th>
                <td data-label="chunks"><Progress s={s} /></td>
                <td data-label="in" class="num">{count(s.stats.kept + s.stats.dropped + s.stats.errors)}{s.stats.items !== s.stats.kept + s.stats.dropped + s.stats.errors && <div class="muted small">from {count(s.stats.items)} work items</div>}</td>
                <td data-label="kept" class="num">{count(s.stats.kept)}</td>
                <td data-label="hours in" class="num">{s.runLevel ? '–' : hours(run.funnelHours.filter((f) => f.stage === s.stage).reduce((a, f) => a + f.hours, 0))}</td>
                <td data-label="hours kept" class="num">{s.runLevel ? '–' : hours(hoursOf(s.stage, 'kept'))}</td>
                <td data-label="dropped"><ReasonList stage={s.stage} kind="dropped" reasons={reasonsOf(s, 'dropped')} run={run} /></td>
                <td data-label="errors"><ReasonList stage={s.stage} kind="error" reasons={reasonsOf(s, 'error')} run={run} /></td>
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
