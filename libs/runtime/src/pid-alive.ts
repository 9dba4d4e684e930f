import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Whether a process of this host still runs. A zombie (exited, not yet reaped by its parent) counts as
 * gone: it holds nothing any more, and a killed launcher whose parent has not waited for it must not
 * keep its run's lease or its scratch folders.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: the pid exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is all we know
  }
}

/**
 * What tells a process from a later one that reuses its pid: its start time (Linux: field 22 of
 * /proc/<pid>/stat, in clock ticks since boot; elsewhere `ps -o lstart=`). undefined when unknown.
 */
export function processStartId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (start) return `proc:${start}`;
  } catch {
    // no /proc (macOS, BSD) or no such process
  }
  if (process.platform === 'win32') return undefined;
  const ps = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 5_000 });
  const text = ps.status === 0 ? ps.stdout.trim() : '';
  return text ? `ps:${text}` : undefined;
}
