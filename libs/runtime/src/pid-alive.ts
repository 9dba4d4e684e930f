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
