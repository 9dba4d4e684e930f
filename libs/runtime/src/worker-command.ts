import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root (where package.json and apps/ live). */
export function workspaceRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/**
 * The local command that plays a stage's image: its TypeScript entry through tsx in a
 * checkout, or the bundled worker (dist/apps/stage-<type>/main.js) when FINEVIDEO_BUNDLED=1
 * (benchmarks, after `npm run build`) or when there are no sources. Used by the local
 * executor and by the fake Kubernetes job controller.
 */
export function workerCommand(stageType: string): { command: string; args: string[] } {
  if (!/^[a-z0-9-]+$/.test(stageType)) throw new Error(`stage type: expected lowercase letters, digits and "-", got ${JSON.stringify(stageType)}`);
  const root = workspaceRoot();
  const bundled = join(root, 'dist', 'apps', `stage-${stageType}`, 'main.js');
  const source = resolve(root, 'apps', `stage-${stageType}`, 'src', 'main.ts');
  if (existsSync(bundled) && (process.env.FINEVIDEO_BUNDLED === '1' || !existsSync(source))) return { command: process.execPath, args: [bundled] };
  if (!existsSync(source)) throw new Error(`stage ${stageType}: expected a worker at ${source}, got none`);
  return { command: process.execPath, args: ['--import', 'tsx', source] };
}

/** Image name -> stage type: "finevideo/stage-dynamism" -> "dynamism". */
export function stageTypeOfImage(image: string): string {
  const name = image.split('/').pop()!.split(':')[0]!.split('@')[0]!;
  const m = /^stage-([a-z0-9-]+)$/.exec(name);
  if (!m) throw new Error(`image: expected a name like "<registry>/stage-<type>[:tag]", got ${JSON.stringify(image)}`);
  return m[1]!;
}

/** The local worker process that stands in for a stage image's container (fake clusters, local dry runs). */
export function localWorkerForImage(image: string): { command: string; args: string[]; cwd: string } {
  return { ...workerCommand(stageTypeOfImage(image)), cwd: workspaceRoot() };
}
