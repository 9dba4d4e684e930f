import { useRef, useState } from 'preact/hooks';
import type { VideoRow } from './api';
import { clock } from './format';

/** Videos per page in the grid (6 rows of 10 on a desktop; the benchmark measures this page). */
export const GRID_PAGE_SIZE = 60;

/** The strip's frame under the pointer: x across the tile picks one of `frames` equal slices. */
export function stripFrameAt(x: number, width: number, frames: number): number {
  if (frames <= 1 || width <= 0) return 0;
  return Math.min(frames - 1, Math.max(0, Math.floor((x / width) * frames)));
}

interface Strip {
  url: string;
  frames: number;
  /** One frame's width over its height (the poster's). */
  aspect: number;
}

/** One video: its poster; moving the pointer across it scrubs through the strip (loaded on first hover). */
function PosterTile(props: { row: VideoRow; href: string }) {
  const { row } = props;
  const poster = useRef<HTMLImageElement>(null);
  const [strip, setStrip] = useState<Strip | null | 'none'>(null);
  const [frame, setFrame] = useState<number | null>(null);
  // Where the pointer is across the tile (0..1), null when off it: a strip that arrives mid-hover starts there.
  const pointer = useRef<number | null>(null);
  const loadStrip = () => {
    if (strip !== null) return;
    setStrip('none');
    const url = `/posters/${row.video_id}.strip.jpg`;
    // Asked with ?placeholder: a video without a strip answers X-Poster: none (no failed load in the console).
    fetch(`${url}?placeholder`, { method: 'HEAD' }).then((r) => {
      if (!r.ok || r.headers.get('X-Poster') === 'none') return;
      const image = new Image();
      // The strip's frames have the poster's aspect: its width over one frame's width is the frame count.
      image.onload = () => {
        const p = poster.current;
        const aspect = p && p.naturalHeight ? p.naturalWidth / p.naturalHeight : 16 / 9;
        const frames = Math.max(1, Math.round(image.naturalWidth / (image.naturalHeight * aspect)));
        setStrip({ url, frames, aspect });
        if (pointer.current !== null) setFrame(stripFrameAt(pointer.current, 1, frames));
      };
      image.src = url;
    }, () => undefined);
  };
  const onMove = (e: MouseEvent) => {
    loadStrip();
    const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
    pointer.current = box.width > 0 ? (e.clientX - box.left) / box.width : 0;
    if (strip !== null && strip !== 'none') setFrame(stripFrameAt(pointer.current, 1, strip.frames));
  };
  const onLeave = () => {
    pointer.current = null;
    setFrame(null);
  };
  const scrubbing = frame !== null && strip !== null && strip !== 'none';
  return (
    <li class="poster-tile" data-video-id={row.video_id}>
      <a href={props.href} onMouseEnter={loadStrip} onMouseMove={onMove} onMouseLeave={onLeave}>
        <span class="poster-frame">
          <img ref={poster} src={`/posters/${row.video_id}.jpg?placeholder`} alt={`Poster of ${row.title || row.video_id}`} loading="lazy" decoding="async" />
          {scrubbing && (
            <span class="strip-frame" data-frame={frame} aria-hidden="true"
              style={{ aspectRatio: String(strip.aspect), backgroundImage: `url(${strip.url})`, backgroundSize: `${strip.frames * 100}% 100%`, backgroundPosition: `${strip.frames > 1 ? (frame / (strip.frames - 1)) * 100 : 0}% 0` }} />
          )}
          <span class="poster-duration">{clock(row.duration)}</span>
        </span>
        <span class="poster-title">{row.title || row.video_id}</span>
      </a>
      <span class="muted small">{row.category ?? '–'} · <span class={`status ${row.status ?? 'unknown'}`}>{row.status ?? 'unknown'}</span></span>
    </li>
  );
}

/** The list's page as a grid of posters (the same filters, order and pages as the table). */
export function PosterGrid(props: { rows: readonly VideoRow[]; listed: string; stale: boolean }) {
  return (
    <ul class={props.stale ? 'poster-grid stale' : 'poster-grid'} aria-label="Videos as posters" aria-busy={props.stale}>
      {props.rows.map((r) => <PosterTile key={r.video_id} row={r} href={`#/video/${r.video_id}${props.listed}`} />)}
    </ul>
  );
}

/** Table or grid: the choice lives in the URL (view=grid), so it survives reloads and keeps the filters. */
export function ViewToggle(props: { view: 'table' | 'grid'; set: (view: 'table' | 'grid') => void }) {
  return (
    <div class="toggle" role="group" aria-label="Show videos as">
      <button type="button" aria-pressed={props.view === 'table'} onClick={() => props.set('table')}>Table</button>
      <button type="button" aria-pressed={props.view === 'grid'} onClick={() => props.set('grid')}>Grid</button>
    </div>
  );
}
