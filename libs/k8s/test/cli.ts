import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { workspaceRoot } from '@finevideo/runtime';

const cli = join(workspaceRoot(), 'bin', 'finevideo.mjs');

/** The real CLI, asynchronously: a fake API server living in the test process must keep serving. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: workspaceRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
