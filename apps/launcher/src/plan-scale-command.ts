import { ConfigError, type PipelineConfig } from '@finevideo/core';
import { openStore } from '@finevideo/storage';
import type { CommandResult, GlobalOptions } from './command-types.js';
import { estimateScale, formatScaleEstimate, parseNodes } from './plan-scale.js';

/** `finevideo plan <pipeline.yaml> --estimate --videos N [--hours H] [--nodes cpu=..,gpu=..]`. */
export interface ScaleOptions extends GlobalOptions {
  estimate?: boolean;
  videos?: string;
  hours?: string;
  nodes?: string;
}

/** Beyond these the table means nothing (YouTube holds some billions of videos; a year is 8,766 hours). */
const MAX_VIDEOS = 1e9;
const MAX_HOURS = 1e7;

const positive = (flag: string, text: string | undefined, options: { integer: boolean; max: number }): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/_/g, ''));
  const what = options.integer ? 'a whole number' : 'a number';
  if (!Number.isFinite(n) || n <= 0 || (options.integer && !Number.isInteger(n)) || n > options.max) {
    throw new ConfigError(`${flag}: expected ${what} from 1 to ${options.max.toLocaleString('en')}, got ${JSON.stringify(text)}`);
  }
  return n;
};

/** Prints the estimate table; creates no run and writes nothing (earlier runs' markers are read for measured costs). */
export async function scaleEstimateCommand(config: PipelineConfig, options: ScaleOptions): Promise<CommandResult> {
  const videos = positive('--videos', options.videos, { integer: true, max: MAX_VIDEOS });
  if (videos === undefined) throw new ConfigError('--videos: expected the number of source videos with --estimate, got none');
  const hours = positive('--hours', options.hours, { integer: false, max: MAX_HOURS });
  const store = openStore(config.storage, config.s3);
  const estimate = await estimateScale(config, { videos, cluster: parseNodes(options.nodes), store, ...(hours !== undefined ? { hours } : {}) });
  if (options.json) return { exitCode: 0, output: JSON.stringify(estimate, null, 2) };
  return { exitCode: 0, output: formatScaleEstimate(estimate) };
}
