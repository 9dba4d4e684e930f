import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { getJson, type SceneView, type Span, type VideoDetail } from './api';
import { cutClip } from './clip';
import { clock, count, parseTimecode } from './format';
import { listQuery } from './dataset';
import { toggleFlag, useFlags } from './flags';
import { VideoKeys } from './video-keys';

interface TimedScene {
  scene: SceneView;
  index: number;
  start: number | undefined;
  end: number | undefined;
}

const spanOf = (s: Span | undefined) => [parseTimecode(s?.start_timestamp), parseTimecode(s?.end_timestamp)] as const;

/** A time that seeks the player when activated (a button: keyboard and screen readers reach it). */
function Seek(props: { at: number | undefined; label?: string | undefined; seek: (t: number) => void }) {
  if (props.at === undefined) return <span class="mono muted">{props.label ?? '?'}</span>;
  return <button type="button" class="seek mono" onClick={() => props.seek(props.at!)} aria-label={`Play from ${clock(props.at)}`}>{props.label ?? clock(props.at)}</button>;
}

function SceneDetails(props: { t: TimedScene; seek: (t: number) => void; videoUrl: string | undefined; baseline: boolean }) {
  const { scene, start, end } = props.t;
  const [clip, setClip] = useState<{ state: string; url?: string; error?: string }>({ state: 'idle' });
  useEffect(() => setClip({ state: 'idle' }), [props.t.index]);
  useEffect(() => () => {
    if (clip.url) URL.revokeObjectURL(clip.url);
  }, [clip.url]);
  const save = async () => {
    if (!props.videoUrl || start === undefined || end === undefined) return;
    try {
      const blob = await cutClip(props.videoUrl, start, end, (stage, detail) => setClip({ state: `${stage}${detail ? ` ${detail}` : ''}` }));
      setClip({ state: 'ready', url: URL.createObjectURL(blob) });
    } catch (e) {
      setClip({ state: 'failed', error: (e as Error).message });
    }
  };
  const busy = !['idle', 'ready', 'failed'].includes(clip.state);
  return (
    <article class="scene" aria-labelledby="scene-title">
      <div class="scene-head">
        <h3 id="scene-title">Scene {scene.sceneId ?? props.t.index + 1}{scene.title ? `: ${scene.title}` : ''}</h3>
        <span class="mono small"><Seek at={start} seek={props.seek} /> – {end === undefined ? '?' : clock(end)}</span>
      </div>
      <div class="clip-row">
        <button type="button" onClick={save} disabled={busy || !props.videoUrl || start === undefined || end === undefined}>
          {busy ? `Cutting clip… ${clip.state}` : 'Save scene as clip'}
        </button>
        {clip.url && <a class="button" href={clip.url} download={`scene-${scene.sceneId ?? props.t.index + 1}.mp4`}>Download clip</a>}
        {clip.error && <span class="error small" role="alert">{clip.error}</span>}
        <span class="muted small">cut in your browser with ffmpeg.wasm</span>
      </div>
      <dl class="facts">
        {scene.cast?.length ? <><dt>Cast</dt><dd>{scene.cast.join(', ')}</dd></> : null}
        {scene.mood?.description || scene.mood?.keyMoments?.length ? <><dt>Mood</dt><dd>{scene.mood.description}
          {scene.mood.keyMoments?.length ? <ul>{scene.mood.keyMoments.map((k, i) => <li key={i}><Seek at={parseTimecode(k.timestamp)} label={k.timestamp} seek={props.seek} /> {k.changeDescription}</li>)}</ul> : null}
        </dd></> : null}
        {scene.activities?.length ? <><dt>Activities</dt><dd><ul>{scene.activities.map((a, i) => <li key={i}><Seek at={spanOf(a.timestamp)[0]} label={a.timestamp?.start_timestamp} seek={props.seek} /> {a.description}</li>)}</ul></dd></> : null}
        {scene.props?.length ? <><dt>Props</dt><dd><ul class="inline">{scene.props.map((p, i) => <li key={i}>{p.name} <Seek at={spanOf(p.timestamp)[0]} label={p.timestamp?.start_timestamp} seek={props.seek} /></li>)}</ul></dd></> : null}
        {scene.videoEditingDetails?.length ? <><dt>Editing</dt><dd><ul>{scene.videoEditingDetails.map((d, i) => <li key={i}><Seek at={spanOf(d.timestamps)[0]} label={d.timestamps?.start_timestamp} seek={props.seek} /> {d.description}</li>)}</ul></dd></> : null}
        {scene.narrativeProgression?.length ? <><dt>Narrative</dt><dd><ul>{scene.narrativeProgression.map((n, i) => <li key={i}><Seek at={parseTimecode(n.timestamp)} label={n.timestamp} seek={props.seek} /> {n.description}</li>)}</ul></dd></> : null}
        {scene.characterInteraction?.length ? <><dt>Interaction</dt><dd><ul>{scene.characterInteraction.map((c, i) => <li key={i}><b>{c.characters?.join(', ')}</b>: {c.description}</li>)}</ul></dd></> : null}
        {scene.thematicElements ? <><dt>Themes</dt><dd>{scene.thematicElements}</dd></> : null}
        {scene.contextualRelevance ? <><dt>Context</dt><dd>{scene.contextualRelevance}</dd></> : null}
        {/* The baseline writes 0 for scores it cannot measure: "not computed", so not shown as a score. */}
        {!props.baseline && (scene.dynamismScore !== undefined || scene.audioVisualCorrelation !== undefined) ? <><dt>Scores</dt><dd>dynamism {scene.dynamismScore ?? '–'} · audio-visual correlation {scene.audioVisualCorrelation ?? '–'}</dd></> : null}
      </dl>
    </article>
  );
}

const HIDDEN_FIELDS = new Set(['video_id', 'status', 'reason']);

function StageVerdicts(props: { stages: VideoDetail['stages'] }) {
  return (
    <ol class="verdicts">
      {props.stages.map((s) => {
        if (s.runLevel) {
          return <li key={s.stage} class="verdict run-level"><b>{s.stage}</b> <span class="muted small">run-level: it wrote the dataset's card and index, no verdict per video</span></li>;
        }
        const row = s.rows[0];
        const status = row ? String(row.status ?? 'kept') : 'not reached';
        return (
          <li key={s.stage} class={`verdict ${status.replace(/\s/g, '-')}`}>
            <details>
              <summary><b>{s.stage}</b> <span class={`status ${status.replace(/\s/g, '-')}`}>{status}</span>{row?.reason ? <span class="small"> {String(row.reason)}</span> : null}</summary>
              {row ? (
                <table class="kv">
                  <tbody>
                    {Object.entries(row).filter(([k, v]) => !HIDDEN_FIELDS.has(k) && v !== null && v !== '').map(([k, v]) => (
                      <tr key={k}><th scope="row">{k}</th><td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>
                    ))}
                  </tbody>
                </table>
              ) : <p class="muted small">No row: the video did not reach this stage (or it has not run yet).</p>}
            </details>
          </li>
        );
      })}
    </ol>
  );
}

interface ListPlace {
  position: number | null;
  total: number | null;
  previous: string | null;
  next: string | null;
}

/** Where the video sits in the list it was opened from (the dataset page's filters and order). */
function useNeighbours(id: string, params: URLSearchParams): ListPlace | null {
  const [place, setPlace] = useState<ListPlace | null>(null);
  const query = listQuery(params).toString();
  useEffect(() => {
    const controller = new AbortController();
    setPlace(null);
    getJson<ListPlace>(`/api/videos/${id}/neighbours?${query}`, controller.signal).then(setPlace, () => undefined);
    return () => controller.abort();
  }, [id, query]);
  return place;
}

export function VideoPage(props: { id: string; params: URLSearchParams }) {
  const [detail, setDetail] = useState<VideoDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [time, setTime] = useState(0);
  const [duration, setDuration] = useState<number | undefined>(undefined);
  const [selected, setSelected] = useState(0);
  const player = useRef<HTMLVideoElement>(null);
  const place = useNeighbours(props.id, props.params);
  const flagged = useFlags().includes(props.id);
  const transcriptBox = useRef<HTMLOListElement>(null);

  useEffect(() => {
    setDetail(null);
    setError(null);
    setSelected(0);
    getJson<VideoDetail>(`/api/videos/${props.id}`).then(setDetail, (e: Error) => setError(e.message));
  }, [props.id]);

  const meta = detail?.annotation?.contentMetadata;
  const scenes: TimedScene[] = useMemo(() => (meta?.scenes ?? []).map((scene, index) => {
    const [start, end] = spanOf(scene.timestamps);
    return { scene, index, start, end };
  }), [meta]);
  const total = duration ?? detail?.video?.duration ?? scenes.reduce((m, s) => Math.max(m, s.end ?? 0), 0);
  const playing = scenes.findIndex((s) => s.start !== undefined && s.end !== undefined && time >= s.start && time < s.end);
  const cues = detail?.transcript ?? [];
  const cueIndex = cues.findIndex((c) => time >= c.start && time < c.end);

  useEffect(() => {
    // The transcript follows the playhead: its box scrolls, the page does not.
    const box = transcriptBox.current;
    const item = box?.querySelector<HTMLElement>('li.current');
    if (box && item) box.scrollTop = item.offsetTop - box.clientHeight / 3;
  }, [cueIndex]);

  const seek = (t: number) => {
    const v = player.current;
    if (!v) return;
    v.currentTime = t;
    setTime(t);
  };
  const chooseScene = (i: number) => {
    setSelected(i);
    const s = scenes[i];
    if (s?.start !== undefined) seek(s.start);
  };

  const listed = props.params.toString() ? `?${props.params}` : '';
  const open = (id: string | null | undefined) => {
    if (id) location.hash = `#/video/${id}${listed}`;
  };
  const keys = {
    nextVideo: () => open(place?.next), previousVideo: () => open(place?.previous),
    nextScene: () => chooseScene(Math.min(scenes.length - 1, selected + 1)), previousScene: () => chooseScene(Math.max(0, selected - 1)),
    playPause: () => {
      const v = player.current;
      if (v) void (v.paused ? v.play().catch(() => undefined) : v.pause());
    },
    flag: () => toggleFlag(props.id),
  };

  if (error) return <section><h1 tabIndex={-1}>Video {props.id}</h1><p class="error" role="alert">{error}</p><p><a href="#/dataset">← Dataset</a></p></section>;
  if (!detail) return <section><h1 tabIndex={-1}>Video {props.id}</h1><p class="muted">Loading…</p></section>;
  const v = detail.video;
  const title = v?.title || meta?.title || props.id;
  const baseline = detail.annotator === 'baseline annotator';
  return (
    <section class="video-page">
      <VideoKeys actions={keys} />
      <nav class="crumbs small video-nav" aria-label="The list">
        <a href={`#/dataset${listed}`}>← Dataset</a>
        {place?.previous ? <a href={`#/video/${place.previous}${listed}`} rel="prev">‹ Previous</a> : <span class="muted">‹ Previous</span>}
        {place?.next ? <a href={`#/video/${place.next}${listed}`} rel="next">Next ›</a> : <span class="muted">Next ›</span>}
        {place?.position ? <span class="position muted" id="list-position">{count(place.position)} of {count(place.total ?? 0)} in the list</span> : null}
        <button type="button" class="flag" aria-pressed={flagged} onClick={() => toggleFlag(props.id)}>{flagged ? 'Flagged for review' : 'Flag for review'}</button>
        <span class="muted">press ? for keys</span>
      </nav>
      <h1 tabIndex={-1}>{title}</h1>
      <p class="muted small">
        <span class="mono">{props.id}</span>{v?.channel ? ` · ${v.channel}` : ''}{v?.category ? ` · ${v.top_level ?? ''} / ${v.category}` : ''}{v?.duration ? ` · ${clock(v.duration)}` : ''}
        {v?.status ? <> · <span class={`status ${v.status}`}>{v.status}</span> at {v.stage}{v.reason ? ` (${v.reason})` : ''}</> : null}
      </p>
      <div class="video-layout">
        <div class="video-main">
          {detail.media ? (
            <video ref={player} class="player" controls preload="metadata" src={detail.media.url} poster={detail.poster ?? undefined}
              onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)} onSeeked={(e) => setTime(e.currentTarget.currentTime)}
              onLoadedMetadata={(e) => setDuration(e.currentTarget.duration)} aria-label={`Video: ${title}`} />
          ) : <div class="player missing">No downloaded video for this id in the run's storage.</div>}

          {scenes.length > 0 && total > 0 ? (
            <div class="timeline" role="group" aria-label="Scenes: activate one to play from its start">
              {scenes.map((s, i) => {
                const left = ((s.start ?? 0) / total) * 100;
                const width = Math.max(0.8, (((s.end ?? s.start ?? 0) - (s.start ?? 0)) / total) * 100);
                return (
                  <button type="button" key={i} class={`segment${i === playing ? ' playing' : ''}${i === selected ? ' selected' : ''}`}
                    style={{ left: `${left}%`, width: `${width}%` }} data-start={s.start ?? ''}
                    aria-label={`Scene ${s.scene.sceneId ?? i + 1}: ${s.scene.title ?? ''}, ${clock(s.start)} to ${clock(s.end)}`}
                    aria-pressed={i === selected} onClick={() => chooseScene(i)}>
                    <span>{s.scene.sceneId ?? i + 1}</span>
                  </button>
                );
              })}
              <div class="playhead" style={{ left: `${Math.min(100, (time / total) * 100)}%` }} aria-hidden="true" />
            </div>
          ) : null}

          {detail.annotation ? (
            <>
              <p class="small muted">
                Annotation from <span class="mono">{detail.annotation.key}</span> ({detail.annotation.source === 'aligned' ? 'aligned to frames' : 'model timestamps, not aligned yet'}){detail.annotator ? <> by <b>{detail.annotator}</b></> : null}
                {!detail.annotation.valid && <span class="error"> · does not pass the schema: {detail.annotation.problems.slice(0, 3).join('; ')}</span>}
              </p>
              {baseline && (
                <p class="note small" role="note">
                  Made by the baseline annotator (no model): scenes come from detected cuts, the title and description from the video's metadata,
                  narrative lines from the subtitles. What needs a model (characters, activities, mood, storyline, Q&A, scores) was not computed, so it is not shown.
                </p>
              )}
              {scenes[selected] && <SceneDetails t={scenes[selected]!} seek={seek} videoUrl={detail.media?.url} baseline={baseline} />}
              {meta?.description && <><h2>Description</h2><p>{meta.description}</p></>}
              {meta?.storylines && (meta.storylines.description || meta.storylines.climax?.description) ? (
                <>
                  <h2>Storyline</h2>
                  {meta.storylines.description && <p>{meta.storylines.description}</p>}
                  {meta.storylines.scenes?.length ? <p class="small">Through scenes {meta.storylines.scenes.join(', ')}.</p> : null}
                  {meta.storylines.climax?.description && <p class="small"><b>Climax</b> <Seek at={parseTimecode(meta.storylines.climax.timestamp)} label={meta.storylines.climax.timestamp} seek={seek} />: {meta.storylines.climax.description}</p>}
                </>
              ) : null}
              {meta?.characterList?.length ? <><h2>Characters</h2><ul>{meta.characterList.map((c, i) => <li key={i}><b>{c.name}</b> {c.description}</li>)}</ul></> : null}
              {meta?.qAndA?.length ? <><h2>Questions and answers</h2><dl class="qa">{meta.qAndA.map((q, i) => <div key={i}><dt>{q.question}</dt><dd>{q.answer}</dd></div>)}</dl></> : baseline ? null : <><h2>Questions and answers</h2><p class="muted">None.</p></>}
            </>
          ) : <p class="muted">Not annotated yet (annotations/{props.id}.json appears when the annotate stage has run).</p>}
        </div>

        <aside class="video-side">
          <h2>Transcript</h2>
          {cues.length ? (
            <ol class="transcript" ref={transcriptBox} aria-label="Transcript; the current line follows the video">
              {cues.map((c, i) => (
                <li key={i} class={i === cueIndex ? 'current' : ''} aria-current={i === cueIndex ? 'true' : undefined}>
                  <button type="button" class="seek mono" onClick={() => seek(c.start)} aria-label={`Play from ${clock(c.start)}`}>{clock(c.start)}</button> {c.text}
                </li>
              ))}
            </ol>
          ) : detail.sourceText ? (
            <>
              <p class="muted small">No subtitles were downloaded; this is YouTube-Commons' transcript (no times).</p>
              <div class="source-text" aria-label="Transcript from YouTube-Commons">{detail.sourceText}</div>
            </>
          ) : <p class="muted small">No subtitles were downloaded for this video, and the run holds no YouTube-Commons transcript for it.</p>}
          <h2>Why kept or dropped</h2>
          <StageVerdicts stages={detail.stages} />
        </aside>
      </div>
    </section>
  );
}
