/**
 * The one seeded random generator of the product and its tests: mulberry32, a small, fast and
 * well-known 32-bit generator. The same seed always gives the same sequence, on every platform,
 * so a selection or a generated sample can be reproduced byte for byte. Not for secrets.
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed: expected an integer, got ${seed}`);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place, drawing from `random` (one draw per position, from the end). */
export function shuffleInPlace<T, A extends { length: number; [i: number]: T }>(items: A, random: () => number): A {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const x = items[i]!;
    items[i] = items[j]!;
    items[j] = x;
  }
  return items;
}
