import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket refilled continuously at `perMinute` (capacity one minute's worth). take() waits until
 * the amount is there; an amount above the capacity waits for a full bucket and leaves a debt, so a
 * huge video is never refused, only paced. settle() corrects an estimate once the real usage is known.
 */
export class TokenBucket {
  private level: number;
  private updatedAt: number;
  /** Waiters in arrival order: one at a time, so a large request is not starved by small ones. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = () => Date.now(),
    private readonly wait: (ms: number, signal?: AbortSignal) => Promise<unknown> = (ms, signal) => sleep(ms, undefined, signal ? { signal } : {}),
  ) {
    this.level = perMinute;
    this.updatedAt = now();
  }

  private refill(): void {
    const t = this.now();
    this.level = Math.min(this.perMinute, this.level + ((t - this.updatedAt) * this.perMinute) / 60_000);
    this.updatedAt = t;
  }

  take(amount: number, signal?: AbortSignal): Promise<void> {
    if (this.perMinute <= 0 || amount <= 0) return Promise.resolve();
    const turn = this.queue.then(async () => {
      const need = Math.min(amount, this.perMinute);
      for (;;) {
        this.refill();
        if (this.level >= need) break;
        await this.wait(Math.max(5, Math.ceil(((need - this.level) * 60_000) / this.perMinute)), signal);
      }
      this.level -= amount;
    });
    // A waiter that was aborted must not block the ones behind it.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Gives back (or takes more) once the real amount is known: estimate minus actual. */
  settle(estimated: number, actual: number): void {
    if (this.perMinute <= 0) return;
    this.refill();
    this.level = Math.min(this.perMinute, this.level + estimated - actual);
  }
}

export interface Budgets {
  requests: TokenBucket;
  tokens: TokenBucket;
}

const budgets = new Map<string, Budgets>();

/** One pair of buckets per worker process and budget settings: every chunk of the process shares them. */
export function budgetsFor(requestsPerMinute: number, tokensPerMinute: number): Budgets {
  const key = `${requestsPerMinute}/${tokensPerMinute}`;
  let b = budgets.get(key);
  if (!b) {
    b = { requests: new TokenBucket(requestsPerMinute), tokens: new TokenBucket(tokensPerMinute) };
    budgets.set(key, b);
  }
  return b;
}
