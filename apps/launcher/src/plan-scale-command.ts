import { ConfigError, type PipelineConfig } from '@finevideo/core';
import { openStore } from '@finevideo/storage';
import type { CommandResult, GlobalOptions } from './commands.js';
import { estimateScale, formatScaleEstimate, parseNodes } from './plan-scale.js';

/** `finevideo plan <pipeline.yaml> --estimate --videos N [--hours H] [--nodes cpu=..,gpu=..]`. */
export interface ScaleOptions extends GlobalOptions {
  estimate?: boolean;
  videos?: string;
  hours?: string;
  nodes?: string;
}

const positive = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${flag}: expected a positive number, got ${JSON.stringify(text)}`);
  return n;
};

/** Prints the estimate table; creates no run and writes nothing (earlier runs' markers are read for measured costs). */
export async function scaleEstimateCommand(config: PipelineConfig, options: ScaleOptions): Promise<CommandResult> {
  const videos = positive('--videos', options.videos);
  if (videos === undefined) throw new ConfigError('--videos: expected the number of source videos with --estimate, got none');
  const hours = positive('--hours', options.hours);
  const store = openStore(config.storage, config.s3);
  const estimate = await estimateScale(config, { videos, cluster: parseNodes(options.nodes), store, ...(hours !== undefined ? { hours } : {}) });
  if (options.json) return { exitCode: 0, output: JSON.stringify(estimate, null, 2) };
  return { exitCode: 0, output: formatScaleEstimate(estimate) };
}
