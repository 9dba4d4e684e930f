/**
 * Runs `work` over items with at most `concurrency` in flight and hands results to
 * `consume` in input order, so a chunk's output never depends on timing.
 */
export async function orderedPool<I, R>(
  items: AsyncIterable<I> | Iterable<I>,
  concurrency: number,
  work: (item: I, position: number) => Promise<R>,
  consume: (result: R, item: I, position: number) => Promise<void> | void,
): Promise<void> {
  const limit = Math.max(1, Math.floor(concurrency));
  const window: { item: I; position: number; promise: Promise<R> }[] = [];
  let position = 0;
  let failure: unknown;
  const drainOne = async () => {
    const head = window.shift()!;
    const result = await head.promise;
    await consume(result, head.item, head.position);
  };
  try {
    for await (const item of items as AsyncIterable<I>) {
      const p = position++;
      const promise = work(item, p);
      promise.catch(() => undefined); // observed when drained; avoids an unhandled rejection meanwhile
      window.push({ item, position: p, promise });
      if (window.length >= limit) await drainOne();
    }
    while (window.length) await drainOne();
  } catch (error) {
    failure = error;
  }
  if (failure !== undefined) {
    await Promise.allSettled(window.map((w) => w.promise));
    throw failure;
  }
}
