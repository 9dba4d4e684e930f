import { Fragment } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export interface VideoKeyActions {
  nextVideo(): void;
  previousVideo(): void;
  nextScene(): void;
  previousScene(): void;
  playPause(): void;
  flag(): void;
}

const SHORTCUTS: [string, string][] = [
  ['J', 'next video in the list'], ['K', 'previous video in the list'], ['N', 'next scene'], ['P', 'previous scene'],
  ['Space', 'play or pause'], ['F', 'flag or unflag for review'], ['?', 'this help'],
];

/** Keys a typing field keeps for itself. */
const typing = (target: EventTarget | null) => target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));

/** The video page's keyboard: J/K video, N/P scene, space, F flag, ? help (a dialog listing them). */
export function VideoKeys(props: { actions: VideoKeyActions }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const actions = useRef(props.actions);
  actions.current = props.actions;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      // Space on a focused control is that control's own (a button presses, the player toggles itself).
      if (e.key === ' ' && e.target instanceof HTMLElement && e.target.closest('button, a, summary, video')) return;
      const a = actions.current;
      const handlers: Record<string, () => void> = {
        j: a.nextVideo, k: a.previousVideo, n: a.nextScene, p: a.previousScene, ' ': a.playPause, f: a.flag,
        '?': () => (dialog.current?.open ? dialog.current.close() : dialog.current?.showModal()),
      };
      const handler = handlers[e.key.length === 1 ? e.key.toLowerCase() : e.key];
      if (!handler) return;
      e.preventDefault();
      handler();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <dialog ref={dialog} class="help" aria-labelledby="keys-title">
      <h2 id="keys-title">Keyboard shortcuts</h2>
      <dl>{SHORTCUTS.map(([key, what]) => <Fragment key={key}><dt><kbd>{key}</kbd></dt><dd>{what}</dd></Fragment>)}</dl>
      <form method="dialog"><button type="submit">Close</button></form>
    </dialog>
  );
}
