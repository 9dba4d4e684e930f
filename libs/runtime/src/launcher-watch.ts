import { WORKER_ENV } from '@finevideo/core';

/** Seconds a worker whose launcher is gone has to stop its items (Gemini files deleted and the like) before its process group is killed. */
export const ORPHAN_GRACE_MS = 3_000;

export interface LauncherWatch {
  /** Whether the launcher's end of the pipe closed (it exited, or was killed, kill -9 included). */
  readonly gone: boolean;
  /** Ends the worker: with its whole process group (ffmpeg, yt-dlp) when the launcher is gone, else process.exit. */
  exit(code: number): void;
}

/** Kills this process's group (the worker leads it: the local executor starts workers detached on POSIX), itself included. */
function killOwnGroup(): void {
  if (process.platform !== 'win32') {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      // not a group leader (started by hand): only this process goes
    }
  }
  process.exit(1);
}

/**
 * A local worker watches the pipe its launcher holds on its stdin (FINEVIDEO_LAUNCHER_PIPE=stdin):
 * the operating system closes it when the launcher dies, however it dies and on every platform, so
 * the worker aborts its chunk (nothing is committed) and, after a short grace, kills its process
 * group with its media tools. Workers on Kubernetes have no such pipe and are not watched.
 */
export function watchLauncher(abort: AbortController, env: NodeJS.ProcessEnv = process.env, graceMs = ORPHAN_GRACE_MS): LauncherWatch {
  const state = { gone: false };
  const watch: LauncherWatch = {
    get gone() {
      return state.gone;
    },
    exit: (code) => (state.gone ? killOwnGroup() : process.exit(code)),
  };
  if (env[WORKER_ENV.launcherPipe] !== 'stdin') return watch;
  // stdout and stderr are pipes to the same launcher: once it is gone, a log line must not crash the worker (EPIPE) before it stops its group.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const onGone = () => {
    if (state.gone) return;
    state.gone = true;
    abort.abort(new Error('launcher gone'));
    setTimeout(killOwnGroup, graceMs);
  };
  process.stdin.on('data', () => undefined); // the launcher never writes; reading is how the end is seen
  process.stdin.once('end', onGone);
  process.stdin.once('close', onGone);
  process.stdin.once('error', onGone);
  process.stdin.resume();
  return watch;
}
