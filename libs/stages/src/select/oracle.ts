import { seededRandom, shuffleInPlace } from '@finevideo/core';

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
  /** Videos longer than this are never selected. Unset (the default): no cap, as in the original. */
  maxDurationSeconds?: number | undefined;
  seed: number;
  weights: { comments: number; views: number; likes: number };
  /** A channel already picked k times in a category is taken with probability max(0, 1 - penalty * k). */
  channelPenalty: number;
  /**
   * Rows the min-max scaling of comment/view/like counts is taken over: 'table' (the default, as the
   * original: every candidate, eligible or not) or 'eligible' (only videos that can be selected).
   */
  scaleOver?: 'table' | 'eligible' | undefined;
}

export type NotSelectedReason = 'too-long' | 'no-duration' | 'channel-penalty' | 'not-reached' | 'over-budget';
/** Reason codes of OracleResult.reasons: 0 is selected, code k is NOT_SELECTED_REASONS[k - 1]. */
export const NOT_SELECTED_REASONS: readonly NotSelectedReason[] = ['too-long', 'no-duration', 'channel-penalty', 'not-reached', 'over-budget'];
const TOO_LONG = 1;
const NO_DURATION = 2;
const CHANNEL_PENALTY = 3;
const NOT_REACHED = 4;
const OVER_BUDGET = 5;

/** A growable column of numbers (NaN stands for null). */
class NumberColumn {
  values = new Float64Array(1024);
  set(i: number, v: number | null): void {
    if (i >= this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[i] = v === null || !Number.isFinite(v) ? Number.NaN : v;
  }
}

/** Strings stored once, rows keep their number: 2,000,000 rows share a few thousand channel names. */
class Dictionary {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }
}

/**
 * The candidates, column by column: one string per row (the id), numbers in typed arrays, repeated
 * strings in dictionaries. About 90 bytes a row instead of an object of nine fields (~300 bytes).
 */
export class CandidateTable {
  readonly videoIds: string[] = [];
  /** Category names in order of first appearance in the input. */
  readonly categories = new Dictionary();
  readonly topLevels = new Dictionary();
  readonly channels = new Dictionary();
  private readonly category = new NumberColumn();
  private readonly topLevel = new NumberColumn();
  private readonly channel = new NumberColumn();
  readonly followers = new NumberColumn();
  readonly durations = new NumberColumn();
  readonly views = new NumberColumn();
  readonly likes = new NumberColumn();
  readonly comments = new NumberColumn();

  static of(candidates: Iterable<Candidate>): CandidateTable {
    const table = new CandidateTable();
    for (const c of candidates) table.add(c);
    return table;
  }

  get size(): number {
    return this.videoIds.length;
  }

  add(c: Candidate): void {
    this.encoded = undefined;
    const i = this.videoIds.length;
    this.videoIds.push(c.video_id);
    this.category.set(i, this.categories.id(c.category));
    this.topLevel.set(i, c.top_level === null ? null : this.topLevels.id(c.top_level));
    this.channel.set(i, this.channels.id(c.channel));
    this.followers.set(i, c.channel_follower_count);
    this.durations.set(i, c.duration_seconds);
    this.views.set(i, c.view_count);
    this.likes.set(i, c.like_count);
    this.comments.set(i, c.comment_count);
  }

  categoryOf(i: number): number {
    return this.category.values[i]!;
  }

  channelOf(i: number): number {
    return this.channel.values[i]!;
  }

  private encoded: { categories: string[]; topLevels: string[]; channels: string[] } | undefined;

  /**
   * Row i's fields as JSON object members without braces, counts rounded to integers: millions of rows
   * are written without an object each, and each dictionary name is encoded once.
   */
  jsonFields(i: number): string {
    const e = (this.encoded ??= {
      categories: this.categories.names.map((n) => JSON.stringify(n)),
      topLevels: this.topLevels.names.map((n) => JSON.stringify(n)),
      channels: this.channels.names.map((n) => JSON.stringify(n)),
    });
    const count = (column: NumberColumn) => {
      const x = column.values[i]!;
      return Number.isNaN(x) ? 'null' : String(Math.round(x));
    };
    const d = this.durations.values[i]!;
    const top = this.topLevel.values[i]!;
    return `"video_id":${JSON.stringify(this.videoIds[i])},"category":${e.categories[this.categoryOf(i)]},"top_level":${Number.isNaN(top) ? 'null' : e.topLevels[top]}`
      + `,"channel":${e.channels[this.channelOf(i)]},"channel_follower_count":${count(this.followers)},"duration_seconds":${Number.isNaN(d) ? 'null' : String(d)}`
      + `,"view_count":${count(this.views)},"like_count":${count(this.likes)},"comment_count":${count(this.comments)}`;
  }

  /** Row i as a plain object (built on demand, never kept). */
  row(i: number): Candidate {
    const v = (column: NumberColumn) => {
      const x = column.values[i]!;
      return Number.isNaN(x) ? null : x;
    };
    const top = this.topLevel.values[i]!;
    return {
      video_id: this.videoIds[i]!,
      category: this.categories.names[this.categoryOf(i)]!,
      top_level: Number.isNaN(top) ? null : this.topLevels.names[top]!,
      channel: this.channels.names[this.channelOf(i)]!,
      channel_follower_count: v(this.followers),
      duration_seconds: v(this.durations),
      view_count: v(this.views),
      like_count: v(this.likes),
      comment_count: v(this.comments),
    };
  }
}

export interface OracleResult {
  table: CandidateTable;
  /** Row numbers of the selected videos, shortest first (the final fit order). */
  selected: Int32Array;
  /** Engagement score of every row. */
  scores: Float64Array;
  /** Per row: 0 when selected, else the code of its reason (see reasonOf). */
  reasons: Uint8Array;
  targetSeconds: number;
  selectedSeconds: number;
  /** Categories in the order they were walked, with the budget each had and the seconds it picked. */
  categoryBudgets: { category: string; budgetSeconds: number; pickedSeconds: number }[];
}

/** Why row i was not selected; undefined when it was. */
export function reasonOf(result: OracleResult, i: number): NotSelectedReason | undefined {
  const code = result.reasons[i]!;
  return code === 0 ? undefined : NOT_SELECTED_REASONS[code - 1];
}

/** Missing counts and durations count as 0, as in the original. */
const zero = (v: number) => (Number.isNaN(v) ? 0 : v);

/** Min-max scaling of a column over the rows `include` accepts (a loop: no spread over millions of values). */
function minMax(values: Float64Array, n: number, include: (i: number) => boolean): (v: number) => number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!include(i)) continue;
    const v = zero(values[i]!);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return (v) => (hi > lo ? (v - lo) / (hi - lo) : 0);
}

function checkOptions(options: OracleOptions): void {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`${name}: expected a number > 0, got ${v}`);
  };
  positive('targetHours', options.targetHours);
  positive('maxDurationSeconds', options.maxDurationSeconds);
}

/**
 * FineVideo's content selection ("oracle"), deterministic: engagement score from comment/view/like
 * counts min-max scaled over the whole table; rows shuffled (seeded); categories walked in order of
 * first appearance, each sorted by score desc then follower count asc (ties keep the shuffled order)
 * and taken until its budget is met, with a channel penalty drawn from the same seeded generator; the
 * budget after each category is the seconds still missing over the categories without a pick yet
 * (it can go negative: nothing more is taken); finally the picks, shortest first, are added while the
 * total stays within the target. Memory is a few typed arrays per row; no step is quadratic.
 */
export function selectContent(input: CandidateTable | readonly Candidate[], options: OracleOptions): OracleResult {
  checkOptions(options);
  const table = input instanceof CandidateTable ? input : CandidateTable.of(input);
  const n = table.size;
  const durations = table.durations.values;
  const reasons = new Uint8Array(n);
  const eligibleInCategory = new Int32Array(table.categories.names.length);
  const maxDuration = options.maxDurationSeconds ?? Infinity;
  for (let i = 0; i < n; i++) {
    const d = zero(durations[i]!);
    // Deliberate change from the original, which counted a missing duration as 0 s and so let
    // videos of unknown length in for free: they cannot be budgeted, so they get their own reason.
    if (d <= 0) reasons[i] = NO_DURATION;
    else if (d > maxDuration) reasons[i] = TOO_LONG;
    else eligibleInCategory[table.categoryOf(i)]!++;
  }
  const include = options.scaleOver === 'eligible' ? (i: number) => reasons[i] === 0 : () => true;
  const scale = {
    comments: minMax(table.comments.values, n, include),
    views: minMax(table.views.values, n, include),
    likes: minMax(table.likes.values, n, include),
  };
  const w = options.weights;
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    scores[i] = w.comments * scale.comments(zero(table.comments.values[i]!)) + w.views * scale.views(zero(table.views.values[i]!))
      + w.likes * scale.likes(zero(table.likes.values[i]!));
  }

  // The whole table is shuffled, as the original's sample(frac=1) did; rank[i] is row i's shuffled position.
  const random = seededRandom(options.seed);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  shuffleInPlace(order, random);
  const rank = new Int32Array(n);
  for (let p = 0; p < n; p++) rank[order[p]!] = p;

  // Eligible rows grouped by category (counting sort), each group in shuffled order.
  const start = new Int32Array(eligibleInCategory.length + 1);
  for (let c = 0; c < eligibleInCategory.length; c++) start[c + 1] = start[c]! + eligibleInCategory[c]!;
  const fill = start.slice(0, eligibleInCategory.length);
  const grouped = new Int32Array(start[eligibleInCategory.length]!);
  for (let p = 0; p < n; p++) {
    const i = order[p]!;
    if (reasons[i] === 0) grouped[fill[table.categoryOf(i)]!++] = i;
  }

  const followers = table.followers.values;
  const byScore = (a: number, b: number) => scores[b]! - scores[a]! || zero(followers[a]!) - zero(followers[b]!) || rank[a]! - rank[b]!;
  const targetSeconds = options.targetHours * 3600;
  // Categories with nothing selectable take no share of the target.
  const walk: number[] = [];
  for (let c = 0; c < eligibleInCategory.length; c++) if (eligibleInCategory[c]! > 0) walk.push(c);
  let budget = walk.length ? targetSeconds / walk.length : 0;
  let totalPicked = 0;
  let categoriesPicked = 0;
  const picks: number[] = [];
  const categoryBudgets: OracleResult['categoryBudgets'] = [];
  for (const c of walk) {
    const rows = grouped.subarray(start[c]!, start[c + 1]!).sort(byScore);
    const perChannel = new Map<number, number>();
    let categorySeconds = 0;
    for (const row of rows) {
      if (categorySeconds >= budget) {
        reasons[row] = NOT_REACHED;
        continue;
      }
      const channel = table.channelOf(row);
      const k = perChannel.get(channel) ?? 0;
      if (random() < Math.max(0, 1 - options.channelPenalty * k)) {
        picks.push(row);
        perChannel.set(channel, k + 1);
        categorySeconds += durations[row]!;
      } else {
        reasons[row] = CHANNEL_PENALTY;
      }
    }
    categoryBudgets.push({ category: table.categories.names[c]!, budgetSeconds: budget, pickedSeconds: categorySeconds });
    totalPicked += categorySeconds;
    if (perChannel.size > 0) categoriesPicked++;
    const remaining = walk.length - categoriesPicked;
    if (remaining > 0) budget = (targetSeconds - totalPicked) / remaining;
  }

  // Shortest first; equal durations keep their pick order (Array.prototype.sort is stable).
  picks.sort((a, b) => durations[a]! - durations[b]!);
  const selected: number[] = [];
  let selectedSeconds = 0;
  for (const row of picks) {
    const d = durations[row]!;
    if (selectedSeconds + d <= targetSeconds) {
      selected.push(row);
      selectedSeconds += d;
    } else {
      reasons[row] = OVER_BUDGET;
    }
  }
  return { table, selected: Int32Array.from(selected), scores, reasons, targetSeconds, selectedSeconds, categoryBudgets };
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
  for (const i of result.selected) {
    const s = result.table.row(i);
    add(byCategory, s.category, s.duration_seconds ?? 0);
    add(byTopLevel, s.top_level ?? 'unknown', s.duration_seconds ?? 0);
    channels.set(s.channel, (channels.get(s.channel) ?? 0) + 1);
  }
  const counts = new Array<number>(NOT_SELECTED_REASONS.length + 1).fill(0);
  for (const code of result.reasons) counts[code]!++;
  const notSelected: Record<string, number> = {};
  NOT_SELECTED_REASONS.forEach((reason, k) => {
    if (counts[k + 1]! > 0) notSelected[reason] = counts[k + 1]!;
  });
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
