/** One classified video, as content selection sees it. */
export interface Candidate {
  video_id: string;
  category: string;
  top_level: string | null;
  channel: string;
  channel_follower_count: number | null;
  duration_seconds: number | null;
  view_count: number | null;
  like_count: number | null;
  comment_count: number | null;
}

export interface OracleOptions {
  targetHours: number;
  /** Videos longer than this are never selected (FineVideo kept videos of 10 minutes or less). */
  maxDurationSeconds: number;
  seed: number;
  weights: { comments: number; views: number; likes: number };
  /** A channel already picked k times in a category is taken with probability max(0, 1 - penalty * k). */
  channelPenalty: number;
}

export type NotSelectedReason = 'too-long' | 'no-duration' | 'channel-penalty' | 'not-reached' | 'over-budget';

export interface OracleResult {
  /** Selected videos with their score, shortest first (the final fit order). */
  selected: (Candidate & { score: number })[];
  notSelected: Map<string, NotSelectedReason>;
  targetSeconds: number;
  selectedSeconds: number;
  /** Categories in the order they were walked, with the budget each had and the seconds it picked. */
  categoryBudgets: { category: string; budgetSeconds: number; pickedSeconds: number }[];
}

/** mulberry32: a seeded PRNG, so the shuffle and the channel penalty are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const zero = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? 0 : v);

function minMax(values: number[]): (v: number) => number {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return (v) => (hi > lo ? (v - lo) / (hi - lo) : 0);
}

/**
 * FineVideo's content selection ("oracle"), deterministic: engagement score from min-max
 * scaled comments/views/likes; per-category budget = remaining target / remaining categories,
 * recomputed after each category; rows shuffled (seeded), then by score desc and follower
 * count asc; a channel penalty drawn from the same seeded generator; finally the picks,
 * shortest first, are added while the total stays within the target.
 */
export function selectContent(candidates: readonly Candidate[], options: OracleOptions): OracleResult {
  const notSelected = new Map<string, NotSelectedReason>();
  const eligible: Candidate[] = [];
  for (const c of candidates) {
    const d = zero(c.duration_seconds);
    // Deliberate change from the original, which counted a missing duration as 0 s and so let
    // videos of unknown length in for free: they cannot be budgeted, so they get their own reason.
    if (d <= 0) notSelected.set(c.video_id, 'no-duration');
    else if (d > options.maxDurationSeconds) notSelected.set(c.video_id, 'too-long');
    else eligible.push(c);
  }
  const scale = {
    comments: minMax(eligible.map((c) => zero(c.comment_count))),
    views: minMax(eligible.map((c) => zero(c.view_count))),
    likes: minMax(eligible.map((c) => zero(c.like_count))),
  };
  const w = options.weights;
  const scored = eligible.map((c) => ({
    ...c,
    score: w.comments * scale.comments(zero(c.comment_count)) + w.views * scale.views(zero(c.view_count)) + w.likes * scale.likes(zero(c.like_count)),
  }));
  const random = prng(options.seed);
  for (let i = scored.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [scored[i], scored[j]] = [scored[j]!, scored[i]!];
  }
  const targetSeconds = options.targetHours * 3600;
  // Walked in order of first appearance in the input, as the original's unique() did before its shuffle.
  const categories = [...new Set(eligible.map((c) => c.category))];
  let budget = categories.length ? targetSeconds / categories.length : 0;
  let totalPicked = 0;
  const picks: (Candidate & { score: number })[] = [];
  const categoryBudgets: OracleResult['categoryBudgets'] = [];
  categories.forEach((category, position) => {
    // Stable sort of the shuffled rows: ties keep the seeded order.
    const rows = scored.filter((c) => c.category === category)
      .sort((a, b) => b.score - a.score || zero(a.channel_follower_count) - zero(b.channel_follower_count));
    const perChannel = new Map<string, number>();
    let categorySeconds = 0;
    for (const row of rows) {
      if (categorySeconds >= budget) {
        notSelected.set(row.video_id, 'not-reached');
        continue;
      }
      const k = perChannel.get(row.channel) ?? 0;
      if (random() < Math.max(0, 1 - options.channelPenalty * k)) {
        picks.push(row);
        perChannel.set(row.channel, k + 1);
        categorySeconds += zero(row.duration_seconds);
      } else {
        notSelected.set(row.video_id, 'channel-penalty');
      }
    }
    categoryBudgets.push({ category, budgetSeconds: budget, pickedSeconds: categorySeconds });
    totalPicked += categorySeconds;
    const remaining = categories.length - position - 1;
    if (remaining > 0) budget = Math.max(0, targetSeconds - totalPicked) / remaining;
  });
  const selected: (Candidate & { score: number })[] = [];
  let selectedSeconds = 0;
  for (const pick of [...picks].sort((a, b) => zero(a.duration_seconds) - zero(b.duration_seconds))) {
    const d = zero(pick.duration_seconds);
    if (selectedSeconds + d <= targetSeconds) {
      selected.push(pick);
      selectedSeconds += d;
    } else {
      notSelected.set(pick.video_id, 'over-budget');
    }
  }
  return { selected, notSelected, targetSeconds, selectedSeconds, categoryBudgets };
}

export interface SelectionReport {
  targetHours: number;
  selectedHours: number;
  distanceHours: number;
  videos: number;
  byCategory: Record<string, { videos: number; hours: number }>;
  byTopLevel: Record<string, { videos: number; hours: number }>;
  topChannels: { channel: string; videos: number }[];
  notSelected: Record<string, number>;
}

export function selectionReport(result: OracleResult): SelectionReport {
  const add = (map: Record<string, { videos: number; hours: number }>, key: string, seconds: number) => {
    const entry = (map[key] ??= { videos: 0, hours: 0 });
    entry.videos++;
    entry.hours += seconds / 3600;
  };
  const byCategory: SelectionReport['byCategory'] = {};
  const byTopLevel: SelectionReport['byTopLevel'] = {};
  const channels = new Map<string, number>();
  for (const s of result.selected) {
    add(byCategory, s.category, zero(s.duration_seconds));
    add(byTopLevel, s.top_level ?? 'unknown', zero(s.duration_seconds));
    channels.set(s.channel, (channels.get(s.channel) ?? 0) + 1);
  }
  const notSelected: Record<string, number> = {};
  for (const reason of result.notSelected.values()) notSelected[reason] = (notSelected[reason] ?? 0) + 1;
  return {
    targetHours: result.targetSeconds / 3600,
    selectedHours: result.selectedSeconds / 3600,
    distanceHours: (result.targetSeconds - result.selectedSeconds) / 3600,
    videos: result.selected.length,
    byCategory,
    byTopLevel,
    topChannels: [...channels].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 20).map(([channel, videos]) => ({ channel, videos })),
    notSelected,
  };
}
