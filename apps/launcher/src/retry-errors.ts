import { errorClassOf, isRetryableReason } from '@finevideo/core';
import type { RetryErrorsResult, RetrySelection } from '@finevideo/runtime';

const count = (n: number) => n.toLocaleString('en-US');

function asked(selection: RetrySelection): string {
  if (selection.kind === 'all') return 'of any reason';
  if (selection.kind === 'named') return `matching ${selection.reasons.map((r) => JSON.stringify(r)).join(', ')}`;
  return 'of a reason a retry can change (connection, server error, rate limit, timeout, bad response, storage)';
}

/**
 * What `resume --retry-errors` is about to do, printed before anything is reset: the stage whose items
 * run again, the later stages planned again, and the paid items (model calls) that can mean.
 */
export function retryErrorsLines(plan: RetryErrorsResult, selection: RetrySelection): string[] {
  const lines: string[] = [];
  const left = Object.entries(plan.leftAlone).sort((a, b) => b[1] - a[1]);
  if (left.length && selection.kind !== 'all') {
    const total = left.reduce((sum, [, n]) => sum + n, 0);
    const names = left.map(([c]) => c);
    lines.push(`retry-errors: ${count(total)} error row(s) kept as they are (${left.map(([c, n]) => `${c}: ${count(n)}`).join(', ')}): a retry would repeat their verdict; to run them again anyway: --retry-errors ${JSON.stringify(names.join(','))} (or all)`);
  }
  if (!plan.stage) {
    lines.push(`retry-errors: no error rows ${asked(selection)} that can be run again; resuming as usual`);
    return lines;
  }
  const whole = plan.wholeChunks.length ? `, ${plan.wholeChunks.length} chunk(s) whole` : '';
  lines.push(`retry-errors: stage ${plan.stage}: ${count(plan.items)} item(s) with error rows ${asked(selection)} in ${plan.chunks.length} chunk(s) run again${whole}; the other rows of those chunks are kept`);
  // An upper bound: every item of a paid stage without a stored answer; the retried items may all pass now.
  const parts: string[] = [];
  let most = 0;
  if (plan.paid) {
    parts.push(`${plan.stage} ${count(plan.items)}`);
    most += plan.items;
  }
  for (const s of plan.replannedStages) {
    if (!s.paid) continue;
    parts.push(`${s.stage} ${count(s.previousItems)} last time + up to ${count(plan.items)} from the retried items`);
    most += s.previousItems + plan.items;
  }
  if (parts.length) {
    lines.push(`retry-errors: paid items at most ${count(most)} (${parts.join('; ')}); answers already stored for the same model, prompt and schema are reused, so only items without one are paid`);
  } else {
    lines.push('retry-errors: no paid stage (classify, annotate) runs again');
  }
  return lines;
}

/** The later stages a retry resets: they read the table that changes. */
export function retryErrorsWarnings(plan: RetryErrorsResult): string[] {
  if (!plan.stage || !plan.replanned.length) return [];
  const sizes = plan.replannedStages.map((s) => `${s.stage} (${count(s.previousItems)} item(s) last time)`).join(', ');
  return [`retry-errors: ${sizes} read the old table of ${plan.stage}, so ${plan.replanned.length === 1 ? 'it is' : 'they are'} planned and run again in full (per-video outputs stored outside the run are reused)`];
}

/**
 * The --retry-errors flag that runs a stage's error rows again: bare when every class is one a retry
 * can change, else naming the classes (a verdict is run again only when named).
 */
export function retryErrorsFlag(reasons: Record<string, number>): string {
  const classes = [...new Set(Object.keys(reasons).filter((k) => k.startsWith('error:')).map((k) => errorClassOf(k.slice('error:'.length))))];
  if (classes.every((c) => isRetryableReason(c))) return '--retry-errors';
  return `--retry-errors ${JSON.stringify(classes.join(','))}`;
}
