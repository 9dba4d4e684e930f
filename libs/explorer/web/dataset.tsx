import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { getJson, type DatasetView, type VideoPage } from './api';
import { BarChart, COLORS } from './chart';
import { clock, count, hours } from './format';
import { clearFlags, flagsFile, useFlags } from './flags';
import { RANGE_LABELS, RANGE_PARAMS, RangeFilters } from './range-filters';
import { CopyQuery } from './copy-query';
import { GRID_PAGE_SIZE, PosterGrid, ViewToggle } from './poster-grid';

const FILTERS = ['q', 'category', 'topLevel', 'channel', 'status', 'stage', 'reason', ...RANGE_PARAMS] as const;
const PAGE_SIZE = 50;

function CategoryCharts(props: { data: DatasetView }) {
  const { categories, selection } = props.data;
  const [level, setLevel] = useState<'fine' | 'top'>('fine');
  if (!categories.length) return <p class="muted">No classified videos yet (categories come from the classify stage).</p>;
  // select's oracle starts from an even share of the target per category with candidates.
  const target = selection ? selection.targetHours / categories.length : undefined;
  const rows = level === 'fine'
    ? categories.map((c) => ({ name: c.category, candidateHours: c.candidateHours, selectedHours: c.selectedHours, selected: c.selected, candidates: c.candidates, target }))
    : Object.values(categories.reduce<Record<string, { name: string; candidateHours: number; selectedHours: number; selected: number; candidates: number; target: number | undefined }>>((acc, c) => {
        const key = c.topLevel ?? 'unknown';
        const e = (acc[key] ??= { name: key, candidateHours: 0, selectedHours: 0, selected: 0, candidates: 0, target: target === undefined ? undefined : 0 });
        e.candidateHours += c.candidateHours;
        e.selectedHours += c.selectedHours;
        e.selected += c.selected;
        e.candidates += c.candidates;
        if (e.target !== undefined && target !== undefined) e.target += target;
        return acc;
      }, {}));
  return (
    <>
      <div class="toggle" role="group" aria-label="Category level">
        <button type="button" aria-pressed={level === 'fine'} onClick={() => setLevel('fine')}>Fine categories</button>
        <button type="button" aria-pressed={level === 'top'} onClick={() => setLevel('top')}>Top-level</button>
      </div>
      <div class="two">
        <BarChart
          label="Hours per category: classified candidates, selected, and the even share of the selection target; the table beside has the figures"
          height={Math.max(220, rows.length * 30 + 70)}
          config={{
            type: 'bar',
            data: {
              labels: rows.map((r) => r.name),
              datasets: [
                { label: 'candidate hours', data: rows.map((r) => Number(r.candidateHours.toFixed(3))), backgroundColor: COLORS.candidates },
                { label: 'selected hours', data: rows.map((r) => Number(r.selectedHours.toFixed(3))), backgroundColor: COLORS.selected },
                ...(target !== undefined ? [{ label: 'target (even share)', data: rows.map((r) => Number((r.target ?? 0).toFixed(3))), backgroundColor: COLORS.target }] : []),
              ],
            },
            options: { indexAxis: 'y', scales: { x: { title: { display: true, text: 'hours' } } } },
          }}
        />
        <div class="table-wrap">
          <table class="grid compact" aria-label="Videos and hours per category">
            <thead><tr><th scope="col">category</th><th scope="col" class="num">candidates</th><th scope="col" class="num">selected</th><th scope="col" class="num">hours</th>{target !== undefined && <th scope="col" class="num">target h</th>}</tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.name}>
                  <td><a href={`#/dataset?${level === 'fine' ? 'category' : 'topLevel'}=${encodeURIComponent(r.name)}`}>{r.name}</a></td>
                  <td class="num">{count(r.candidates)}</td>
                  <td class="num">{count(r.selected)}</td>
                  <td class="num">{hours(r.selectedHours)}</td>
                  {target !== undefined && <td class="num">{hours(r.target ?? 0)}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      {selection && <p class="small muted">Selection: {count(selection.videos)} videos, {hours(selection.selectedHours)} of {selection.targetHours} target hours. The target line is the even share select starts from; categories short of it pass their budget on.</p>}
    </>
  );
}

/** The options of a filter, with the current value among them even when the facets lack it (a dropdown never shows blank). */
function withCurrent<T extends { value: string }>(options: readonly T[] | undefined, current: string, make: (value: string) => T): T[] {
  const list = [...(options ?? [])];
  if (current && !list.some((o) => o.value === current)) list.unshift(make(current));
  return list;
}

const FILTER_LABELS: Record<(typeof FILTERS)[number], string> = {
  q: 'search', category: 'category', topLevel: 'top-level', channel: 'channel', status: 'status', stage: 'last stage', reason: 'reason', ...RANGE_LABELS,
};

/** The active filters as chips, each removable, whatever their value (one the facets do not list included). */
function FilterChips(props: { filters: Record<(typeof FILTERS)[number], string>; remove: (f: (typeof FILTERS)[number]) => void }) {
  const active = FILTERS.filter((f) => props.filters[f]);
  if (!active.length) return null;
  return (
    <ul class="chips" aria-label="Active filters">
      {active.map((f) => (
        <li key={f} class="chip">
          {FILTER_LABELS[f]}: <b>{props.filters[f]}</b>
          <button type="button" aria-label={`Remove filter ${FILTER_LABELS[f]}: ${props.filters[f]}`} onClick={() => props.remove(f)}>×</button>
        </li>
      ))}
    </ul>
  );
}

/** The list's filters and order as an API query (the downloads and a video's neighbours use the same). */
export function listQuery(params: URLSearchParams): URLSearchParams {
  const query = new URLSearchParams();
  for (const f of FILTERS) if (params.get(f)) query.set(f, params.get(f)!);
  for (const k of ['sort', 'dir']) if (params.get(k)) query.set(k, params.get(k)!);
  return query;
}

/** Copy ids and Download CSV of the current filter, and the browser's own "flagged for review" list. */
function ListActions(props: { params: URLSearchParams }) {
  const query = listQuery(props.params).toString();
  const flags = useFlags();
  const [copied, setCopied] = useState<string | null>(null);
  const [flagsUrl, setFlagsUrl] = useState<string | null>(null);
  useEffect(() => {
    const url = URL.createObjectURL(new Blob([flagsFile(flags, location.host)], { type: 'text/plain' }));
    setFlagsUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [flags.join(',')]);
  const copyIds = async () => {
    try {
      const response = await fetch(`/api/ids.txt?${query}`);
      if (!response.ok) throw new Error(`ids: HTTP ${response.status}`);
      const text = await response.text();
      await navigator.clipboard.writeText(text);
      const n = text ? text.trimEnd().split('\n').length : 0;
      setCopied(`Copied ${count(n)} id${n === 1 ? '' : 's'}`);
    } catch (e) {
      setCopied(`Could not copy: ${(e as Error).message}`);
    }
  };
  return (
    <div class="list-actions" role="group" aria-label="This list">
      <button type="button" onClick={copyIds}>Copy ids</button>
      <a class="button" href={`/api/videos.csv?${query}`} download="videos.csv">Download CSV</a>
      <CopyQuery query={query} />
      {copied && <span class="small muted" role="status">{copied}</span>}
      <span class="flags small">
        Flagged for review: <b id="flag-count">{flags.length}</b>
        {flags.length > 0 && flagsUrl && <> · <a href={flagsUrl} download="flagged-for-review.txt">Download ids file</a> · <button type="button" class="link" onClick={clearFlags}>Clear</button></>}
      </span>
    </div>
  );
}

function StatusBadge(props: { status: string | null; selected: boolean | null }) {
  const s = props.status ?? 'unknown';
  return <span class={`status ${s}`}>{s}{props.selected ? ' · selected' : ''}</span>;
}

export function Dataset(props: { params: URLSearchParams }) {
  const [data, setData] = useState<DatasetView | null>(null);
  const [page, setPage] = useState<(VideoPage & { key: string }) | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [channels, setChannels] = useState<string[]>([]);
  const params = props.params;
  const filters = useMemo(() => Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>, [params.toString()]);
  const pageNo = Math.max(1, Number(params.get('page') ?? 1) || 1);
  const view = params.get('view') === 'grid' ? 'grid' : 'table';
  const pageSize = view === 'grid' ? GRID_PAGE_SIZE : PAGE_SIZE;
  const sort = params.get('sort') ?? 'video_id';
  const dir = params.get('dir') === 'desc' ? 'desc' : 'asc';
  const [search, setSearch] = useState(filters.q);
  const searchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    getJson<DatasetView>('/api/dataset').then(setData, (e: Error) => setError(e.message));
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    const query = new URLSearchParams();
    for (const f of FILTERS) if (filters[f]) query.set(f, filters[f]);
    query.set('page', String(pageNo));
    query.set('pageSize', String(pageSize));
    query.set('sort', sort);
    query.set('dir', dir);
    const key = params.toString();
    getJson<VideoPage>(`/api/videos?${query}`, controller.signal).then((p) => {
      setPage({ ...p, key });
      setError(null);
    }, (e: Error) => {
      if (!controller.signal.aborted) setError(e.message);
    });
    return () => controller.abort();
  }, [params.toString()]);

  const update = (changes: Record<string, string>, keepPage = false) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!keepPage) next.delete('page');
    location.replace(`#/dataset?${next}`);
  };

  const onSearch = (value: string) => {
    setSearch(value);
    clearTimeout(searchTimer.current);
    searchTimer.current = setTimeout(() => update({ q: value }), 250);
  };

  const onChannel = (value: string) => {
    update({ channel: value });
    getJson<{ channels: { channel: string }[] }>(`/api/channels?q=${encodeURIComponent(value)}`).then((r) => setChannels(r.channels.map((c) => c.channel)), () => undefined);
  };

  const facets = data?.facets;
  const pages = page ? Math.max(1, Math.ceil(page.total / pageSize)) : 1;
  const sortHeader = (key: string, label: string, num = false) => (
    <th scope="col" class={num ? 'num' : ''} aria-sort={sort === key ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => update({ sort: key, dir: sort === key && dir === 'asc' ? 'desc' : 'asc' })}>
        {label}{sort === key ? (dir === 'asc' ? ' ▲' : ' ▼') : ''}
      </button>
    </th>
  );
  const active = FILTERS.some((f) => filters[f]);
  // A video opened from the list keeps the list (its crumb and previous/next follow the filters).
  const listed = params.toString() ? `?${params}` : '';
  // The rows on screen belong to the last answer; until the new one arrives, say so instead of a stale count.
  const current = page !== null && page.key === params.toString();

  return (
    <section>
      <h1 tabIndex={-1}>Dataset</h1>
      <h2>Hours and videos per category</h2>
      {data ? <CategoryCharts data={data} /> : <p class="muted">Loading…</p>}

      <h2 id="videos-heading">Videos</h2>
      <form class="filters" role="search" aria-label="Filter videos" onSubmit={(e) => e.preventDefault()}>
        <label>Title<input type="search" name="q" value={search} placeholder="search titles" onInput={(e) => onSearch(e.currentTarget.value)} /></label>
        <label>Category
          <select name="category" value={filters.category} onChange={(e) => update({ category: e.currentTarget.value })}>
            <option value="">any</option>
            {withCurrent(facets?.categories, filters.category, (value) => ({ value, topLevel: null, videos: 0 })).map((c) => <option key={c.value} value={c.value}>{c.value} ({c.videos})</option>)}
          </select>
        </label>
        <label>Top-level
          <select name="topLevel" value={filters.topLevel} onChange={(e) => update({ topLevel: e.currentTarget.value })}>
            <option value="">any</option>
            {withCurrent(facets?.topLevels, filters.topLevel, (value) => ({ value, videos: 0 })).map((c) => <option key={c.value} value={c.value}>{c.value} ({c.videos})</option>)}
          </select>
        </label>
        <label>Channel
          <input name="channel" list="channel-list" value={filters.channel} placeholder="exact name" onChange={(e) => onChannel(e.currentTarget.value)}
            onInput={(e) => getJson<{ channels: { channel: string }[] }>(`/api/channels?q=${encodeURIComponent(e.currentTarget.value)}`).then((r) => setChannels(r.channels.map((c) => c.channel)), () => undefined)} />
          <datalist id="channel-list">{channels.map((c) => <option key={c} value={c} />)}</datalist>
        </label>
        <label>Status
          <select name="status" value={filters.status} onChange={(e) => update({ status: e.currentTarget.value })}>
            <option value="">any</option>
            {withCurrent(facets?.statuses, filters.status, (value) => ({ value, videos: 0 })).map((c) => <option key={c.value} value={c.value}>{c.value} ({c.videos})</option>)}
          </select>
        </label>
        <label>Last stage
          <select name="stage" value={filters.stage} onChange={(e) => update({ stage: e.currentTarget.value })}>
            <option value="">any</option>
            {withCurrent(facets?.stages, filters.stage, (value) => ({ value, videos: 0 })).map((c) => <option key={c.value} value={c.value}>{c.value} ({c.videos})</option>)}
          </select>
        </label>
        <label>Drop or error reason
          <select name="reason" value={filters.reason} onChange={(e) => update({ reason: e.currentTarget.value })}>
            <option value="">any</option>
            {withCurrent([...new Map((facets?.reasons ?? []).map((r) => [r.value, r])).values()], filters.reason, (value) => ({ value, stage: '', status: '', videos: 0 })).map((r) => <option key={r.value} value={r.value}>{r.value}{r.stage ? ` (${r.stage})` : ''}</option>)}
          </select>
        </label>
        {active && <button type="button" class="link" onClick={() => { setSearch(''); location.replace('#/dataset'); }}>Clear filters</button>}
      </form>
      <RangeFilters query={listQuery(params).toString()} params={params} update={update} />
      <FilterChips filters={filters} remove={(f) => { if (f === 'q') setSearch(''); update({ [f]: '' }); }} />
      <ListActions params={params} />
      {error && <p class="error" role="alert">{error}</p>}
      <p class="small muted" aria-live="polite" id="result-count">{page && current ? `${count(page.total)} video${page.total === 1 ? '' : 's'}${active ? ' match' : ''} · page ${pageNo} of ${count(pages)}` : 'Loading…'}</p>
      <ViewToggle view={view} set={(v) => update({ view: v === 'grid' ? 'grid' : '' })} />
      {view === 'grid' ? <PosterGrid rows={page?.rows ?? []} listed={listed} stale={!current} /> : (
      <div class="table-wrap">
        <table class={current ? 'grid videos stack' : 'grid videos stack stale'} aria-busy={!current} aria-labelledby="videos-heading" aria-describedby="result-count">
          <thead>
            <tr>
              {sortHeader('title', 'title')}
              {sortHeader('channel', 'channel')}
              {sortHeader('category', 'category')}
              {sortHeader('duration', 'duration', true)}
              {sortHeader('status', 'status')}
              {sortHeader('stage', 'last stage')}
              <th scope="col">reason</th>
            </tr>
          </thead>
          <tbody>
            {page?.rows.map((r) => (
              <tr key={r.video_id}>
                <td class="title-cell"><a href={`#/video/${r.video_id}${listed}`}>{r.title || r.video_id}</a><div class="muted small mono">{r.video_id}</div></td>
                <td data-label="channel">{r.channel ?? '–'}</td>
                <td data-label="category">{r.category ?? <span class="muted">–</span>}{r.top_level && <div class="muted small">{r.top_level}</div>}</td>
                <td data-label="duration" class="num">{clock(r.duration)}</td>
                <td data-label="status"><StatusBadge status={r.status} selected={r.selected} /></td>
                <td data-label="last stage">{r.stage}</td>
                <td data-label="reason" class="small">{r.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      )}
      <nav class="pager" aria-label="Pages of videos">
        <button type="button" disabled={pageNo <= 1} onClick={() => update({ page: String(pageNo - 1) }, true)}>← Previous</button>
        <span>page {pageNo} of {count(pages)}</span>
        <button type="button" disabled={pageNo >= pages} onClick={() => update({ page: String(pageNo + 1) }, true)}>Next →</button>
      </nav>
    </section>
  );
}
