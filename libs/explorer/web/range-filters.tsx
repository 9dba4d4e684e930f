import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api';
import { count } from './format';
import { RANGE_FIELDS, RANGE_KEYS, RANGE_PARAMS, maxParam, minParam, type Histogram, type RangeField, type RangeParam } from '../src/range-fields';

/** The chips' labels of the range parameters ("duration ≥ (s)", "Q&A pairs ≤"). */
export const RANGE_LABELS = Object.fromEntries(RANGE_KEYS.flatMap((f) => {
  const { label, unit } = RANGE_FIELDS[f];
  const suffix = unit ? ` (${unit})` : '';
  return [[minParam(f), `${label} ≥${suffix}`], [maxParam(f), `${label} ≤${suffix}`]];
})) as Record<RangeParam, string>;

export { RANGE_PARAMS };

/** A bound as the URL and the label show it: integers whole, others to 3 significant decimals. */
const shown = (v: number, integer: boolean) => (integer ? String(Math.round(v)) : String(Number(v.toPrecision(3))));

/** Steps of a slider: one per value for integers, a 200th of the span otherwise. */
const stepOf = (h: Histogram, integer: boolean) => (integer ? 1 : h.max! > h.min! ? (h.max! - h.min!) / 200 : 1);

/** Bars of the histogram: the bins inside the chosen range in colour, the others grey. */
function Bars(props: { h: Histogram; lo: number; hi: number }) {
  const { bins } = props.h;
  const most = Math.max(1, ...bins.map((b) => b.videos));
  const width = 100 / bins.length;
  return (
    <svg class="histogram" viewBox="0 0 100 40" preserveAspectRatio="none" aria-hidden="true">
      {bins.map((b, i) => {
        const height = b.videos ? Math.max(1.5, (b.videos / most) * 40) : 0;
        const inside = b.to >= props.lo && b.from <= props.hi;
        return <rect key={i} class={inside ? 'in' : 'out'} x={i * width + 0.3} y={40 - height} width={Math.max(0.2, width - 0.6)} height={height}><title>{`${b.from}–${b.to}: ${b.videos}`}</title></rect>;
      })}
    </svg>
  );
}

/** One field: its histogram and a two-handle range (two sliders on one track); a handle at an end means no bound. */
function RangeFilter(props: { h: Histogram; params: URLSearchParams; update: (changes: Record<string, string>) => void }) {
  const { h, params } = props;
  const { label, unit, integer } = RANGE_FIELDS[h.field];
  const min = h.min!;
  const max = h.max!;
  const fromUrl = (p: RangeParam, fallback: number) => {
    const v = Number(params.get(p) ?? '');
    return params.get(p) && Number.isFinite(v) ? v : fallback;
  };
  const [lo, setLo] = useState(fromUrl(minParam(h.field), min));
  const [hi, setHi] = useState(fromUrl(maxParam(h.field), max));
  useEffect(() => {
    setLo(fromUrl(minParam(h.field), min));
    setHi(fromUrl(maxParam(h.field), max));
  }, [params.toString(), min, max]);
  const commit = (nextLo: number, nextHi: number) => props.update({
    [minParam(h.field)]: nextLo > min ? shown(nextLo, integer) : '',
    [maxParam(h.field)]: nextHi < max ? shown(nextHi, integer) : '',
  });
  const step = stepOf(h, integer);
  const listed = h.bins.reduce((a, b) => a + b.videos, 0);
  return (
    <fieldset class="range-filter" data-field={h.field}>
      <legend>{label}{unit ? ` (${unit})` : ''}</legend>
      <Bars h={h} lo={lo} hi={hi} />
      {min === max ? <div class="small range-values">every video: {shown(min, integer)}</div> : <>
      <div class="two-handles">
        <input type="range" min={min} max={max} step={step} value={lo} aria-label={`${label} at least`}
          onInput={(e) => setLo(Math.min(Number(e.currentTarget.value), hi))} onChange={(e) => commit(Math.min(Number(e.currentTarget.value), hi), hi)} />
        <input type="range" min={min} max={max} step={step} value={hi} aria-label={`${label} at most`}
          onInput={(e) => setHi(Math.max(Number(e.currentTarget.value), lo))} onChange={(e) => commit(lo, Math.max(Number(e.currentTarget.value), lo))} />
      </div>
      <div class="small range-values"><span>{shown(lo, integer)}</span><span>{shown(hi, integer)}</span></div>
      </>}
      <div class="small muted range-count">{count(listed + h.missing)} videos{h.missing ? `, ${count(h.missing)} without a value` : ''}</div>
    </fieldset>
  );
}

/** The range filters with their histograms, each over the list the other filters leave (the server counts). */
export function RangeFilters(props: { query: string; params: URLSearchParams; update: (changes: Record<string, string>) => void }) {
  const [histograms, setHistograms] = useState<Histogram[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    getJson<{ histograms: Histogram[] }>(`/api/histograms?${props.query}`, controller.signal).then((r) => {
      setHistograms(r.histograms);
      setError(null);
    }, (e: Error) => {
      if (!controller.signal.aborted) setError(e.message);
    });
    return () => controller.abort();
  }, [props.query]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!histograms) return <p class="muted small">Loading ranges…</p>;
  const drawn = histograms.filter((h) => h.min !== null && h.max !== null);
  const none = histograms.filter((h) => h.min === null).map((h) => RANGE_FIELDS[h.field as RangeField].label);
  return (
    <div class="range-filters" role="group" aria-label="Range filters">
      {drawn.map((h) => <RangeFilter key={h.field} h={h} params={props.params} update={props.update} />)}
      {none.length > 0 && <p class="small muted">No video has a value for {none.join(', ')} (no stage or column here measures {none.length > 1 ? 'them' : 'it'}).</p>}
    </div>
  );
}
