import type { CommandResult, GlobalOptions } from './commands.js';

export interface DemoOptions extends GlobalOptions {
  rows?: number;
}

export async function demoCommand(_options: DemoOptions, _signal?: AbortSignal): Promise<CommandResult> {
  return { exitCode: 1, output: 'demo: not wired yet' };
}
