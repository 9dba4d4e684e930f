import { z } from 'zod';
import { timecodeSeconds, type AlignedContentMetadata } from '@finevideo/dataset';
import { DEFAULT_PROMPT } from '../annotate/prompt.js';

/**
 * Anomaly rules over an aligned annotation. FineVideo drew this box ("anomaly filtering") but published
 * no code; these are our rules, each with a name (the drop reason is `anomaly:<name>`), the threshold
 * params it reads, and a pure check. The order below is the order of the drop reason: a video breaking
 * several rules is dropped for the first, and every rule it breaks is listed in its row and the report.
 */
export const ANOMALY_RULES = [
  'coverage', 'early-stop', 'timestamps', 'scene-ids', 'scene-count', 'cast', 'storyline', 'climax', 'qa', 'scores', 'text', 'placeholder', 'duration',
] as const;
export type AnomalyRule = (typeof ANOMALY_RULES)[number];

export const anomalyParams = z.strictObject({
  /** coverage: the first scene starts and the last ends within this of the video's edges. */
  coverageToleranceSec: z.number().min(0).default(2),
  /** early-stop: the model's last scene time must reach at least this share of the video's duration... */
  earlyStopMinCoverage: z.number().min(0).max(1).default(0.8),
  /** ... or lie within this many seconds of the video's end (a short video's skipped outro is no early stop). */
  earlyStopMaxGapSec: z.number().min(0).default(30),
  /** timestamps: frames a timecode may lie outside its scene or the video. */
  timestampToleranceFrames: z.number().int().min(0).default(0),
  /** scene-ids: scenes whose id is not its position (1..n) tolerated. */
  maxSceneIdErrors: z.number().int().min(0).default(0),
  /** scene-count: scenes beyond the detected shots (cuts + 1) tolerated. */
  maxExtraScenes: z.number().int().min(0).default(5),
  /** scene-count: detected cuts per annotated scene tolerated. */
  maxCutsPerScene: z.number().positive().default(100),
  /** cast: share of cast entries that name no character of characterList tolerated. */
  maxUnknownCastShare: z.number().min(0).max(1).default(0.5),
  /** storyline: storyline scene ids that name no scene tolerated. */
  maxUnknownStorylineScenes: z.number().int().min(0).default(0),
  /** climax: frames the climax may lie outside the video. */
  climaxToleranceFrames: z.number().int().min(0).default(0),
  /** qa: Q&A pairs required (none empty, no question twice). */
  minQaPairs: z.number().int().min(0).default(5),
  /** scores: scene scores outside [0, 1] (or not numbers) tolerated. */
  maxScoreErrors: z.number().int().min(0).default(0),
  /** text: characters the title and the description must have at least. */
  minTextChars: z.number().int().min(0).default(1),
  /** placeholder: share of free-text fields that are empty or placeholders ("N/A", "...") tolerated. */
  maxPlaceholderShare: z.number().min(0).max(1).default(0.5),
  /** duration: seconds the metadata's duration and the file's may differ. */
  durationToleranceSec: z.number().min(0).default(5),
  /** Rules not applied (listed as disabled in the report). */
  disabled: z.array(z.enum(ANOMALY_RULES)).default([]),
  /** Annotations read at once. */
  concurrency: z.number().int().min(1).max(64).default(16),
  /** Example video ids kept per rule in the report. */
  examples: z.number().int().min(0).max(100).default(5),
});
export type AnomalyParams = z.infer<typeof anomalyParams>;

/** The params each rule reads (for the report and the README). */
export const RULE_PARAMS: Record<AnomalyRule, readonly (keyof AnomalyParams)[]> = {
  coverage: ['coverageToleranceSec'],
  'early-stop': ['earlyStopMinCoverage', 'earlyStopMaxGapSec'],
  timestamps: ['timestampToleranceFrames'],
  'scene-ids': ['maxSceneIdErrors'],
  'scene-count': ['maxExtraScenes', 'maxCutsPerScene'],
  cast: ['maxUnknownCastShare'],
  storyline: ['maxUnknownStorylineScenes'],
  climax: ['climaxToleranceFrames'],
  qa: ['minQaPairs'],
  scores: ['maxScoreErrors'],
  text: ['minTextChars'],
  placeholder: ['maxPlaceholderShare'],
  duration: ['durationToleranceSec'],
};

/** What is known of the video besides its annotation (from the align stage's row). */
export interface VideoFacts {
  fps: number;
  frameCount: number;
  cuts: number;
  /** The duration the video's metadata states; null when unknown (the duration rule is skipped). */
  metadataDuration: number | null;
  /**
   * The latest scene time the model gave, before align stretched the last scene to the video's end;
   * null when unknown (rows of an older align: the early-stop rule is skipped).
   */
  modelEndSec: number | null;
  /** A baseline annotation leaves what needs understanding empty by design: the qa and placeholder rules are skipped. */
  baseline: boolean;
}

/** A rule's verdict: undefined when the video passes, 'skip' when the rule does not apply, else the detail. */
export type RuleVerdict = string | 'skip' | undefined;

export interface Judged {
  violations: { rule: AnomalyRule; detail: string }[];
  skipped: AnomalyRule[];
}

const SKIP = 'skip';
const norm = (text: string) => text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
const PROMPT_TEXT = norm(DEFAULT_PROMPT);
/** Texts that stand for no content. */
const PLACEHOLDER = /^(?:n\/?a|none|null|nil|tbd|todo|unknown|not available|not applicable|placeholder|lorem ipsum.*|string|text|description|title|\.{2,}|…|-+|\?+|x+|<[^>]*>|\[[^\]]*\]|\{[^}]*\})$/i;
/** A model repeating the prompt: a field of at least this many characters found verbatim in it. */
const ECHO_MIN_CHARS = 24;

const seconds = (s: number) => `${Math.round(s * 100) / 100} s`;

/** Raw scene scores that are not numbers in [0, 1] (read before the schema, which would refuse them). */
export function scoreErrors(raw: unknown): { count: number; first?: string } {
  const scenes = (raw as { scenes?: unknown })?.scenes;
  if (!Array.isArray(scenes)) return { count: 0 };
  let count = 0;
  let first: string | undefined;
  scenes.forEach((scene, i) => {
    for (const key of ['dynamismScore', 'audioVisualCorrelation'] as const) {
      const value = (scene as Record<string, unknown> | null)?.[key];
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1) continue;
      count++;
      first ??= `scenes[${i}].${key} = ${JSON.stringify(value) ?? 'missing'}`;
    }
  });
  return { count, first };
}

/** The raw annotation with bad scores replaced by 0, so the schema can check everything else. */
export function withScoresClamped(raw: unknown): unknown {
  const scenes = (raw as { scenes?: unknown })?.scenes;
  if (!Array.isArray(scenes)) return raw;
  const fix = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
  return {
    ...(raw as object),
    scenes: scenes.map((s) => (s && typeof s === 'object' ? { ...s, dynamismScore: fix((s as Record<string, unknown>).dynamismScore), audioVisualCorrelation: fix((s as Record<string, unknown>).audioVisualCorrelation) } : s)),
  };
}

/** Every free-text field of an annotation, with its path. */
function* freeTexts(a: AlignedContentMetadata): Generator<[string, string]> {
  yield ['title', a.title];
  yield ['description', a.description];
  for (const [k, c] of a.characterList.entries()) { yield [`characterList[${k}].name`, c.name]; yield [`characterList[${k}].description`, c.description]; }
  for (const [i, s] of a.scenes.entries()) {
    const at = `scenes[${i}]`;
    yield [`${at}.title`, s.title];
    for (const [k, x] of s.activities.entries()) yield [`${at}.activities[${k}].description`, x.description];
    for (const [k, x] of s.props.entries()) yield [`${at}.props[${k}].name`, x.name];
    for (const [k, x] of s.videoEditingDetails.entries()) yield [`${at}.videoEditingDetails[${k}].description`, x.description];
    yield [`${at}.mood.description`, s.mood.description];
    for (const [k, x] of s.mood.keyMoments.entries()) yield [`${at}.mood.keyMoments[${k}].changeDescription`, x.changeDescription];
    for (const [k, x] of s.narrativeProgression.entries()) yield [`${at}.narrativeProgression[${k}].description`, x.description];
    for (const [k, x] of s.characterInteraction.entries()) yield [`${at}.characterInteraction[${k}].description`, x.description];
    yield [`${at}.thematicElements`, s.thematicElements];
    yield [`${at}.contextualRelevance`, s.contextualRelevance];
  }
  yield ['storylines.description', a.storylines.description];
  yield ['storylines.climax.description', a.storylines.climax.description];
  for (const [k, q] of a.qAndA.entries()) { yield [`qAndA[${k}].question`, q.question]; yield [`qAndA[${k}].answer`, q.answer]; }
  for (const [k, t] of a.trimmingSuggestions.entries()) yield [`trimmingSuggestions[${k}].description`, t.description];
}

/** Every timecode of an annotation with its path and the frame range it must lie in. */
function* timecodes(a: AlignedContentMetadata, sceneFrames: { start: number; end: number }[], lastFrame: number): Generator<[string, string | null, number, number]> {
  for (const [i, s] of a.scenes.entries()) {
    const { start, end } = sceneFrames[i]!;
    const at = `scenes[${i}]`;
    yield [`${at}.timestamps.start_timestamp`, s.timestamps.start_timestamp, 0, lastFrame];
    yield [`${at}.timestamps.end_timestamp`, s.timestamps.end_timestamp, 0, lastFrame];
    const spans: [string, { start_timestamp: string | null; end_timestamp: string | null }][] = [
      ...s.activities.map((x, k): [string, typeof x.timestamp] => [`${at}.activities[${k}].timestamp`, x.timestamp]),
      ...s.props.map((x, k): [string, typeof x.timestamp] => [`${at}.props[${k}].timestamp`, x.timestamp]),
      ...s.videoEditingDetails.map((x, k): [string, typeof x.timestamps] => [`${at}.videoEditingDetails[${k}].timestamps`, x.timestamps]),
    ];
    for (const [path, span] of spans) {
      yield [`${path}.start_timestamp`, span.start_timestamp, start, end];
      yield [`${path}.end_timestamp`, span.end_timestamp, start, end];
    }
    for (const [k, m] of s.mood.keyMoments.entries()) yield [`${at}.mood.keyMoments[${k}].timestamp`, m.timestamp, start, end];
    for (const [k, n] of s.narrativeProgression.entries()) yield [`${at}.narrativeProgression[${k}].timestamp`, n.timestamp, start, end];
  }
  for (const [k, t] of a.trimmingSuggestions.entries()) {
    yield [`trimmingSuggestions[${k}].timestamps.start_timestamp`, t.timestamps.start_timestamp, 0, lastFrame];
    yield [`trimmingSuggestions[${k}].timestamps.end_timestamp`, t.timestamps.end_timestamp, 0, lastFrame];
  }
}

/** Applies every enabled rule to one aligned annotation. `scoreCheck` is scoreErrors of the raw JSON. */
export function judgeAnnotation(a: AlignedContentMetadata, facts: VideoFacts, p: AnomalyParams, scoreCheck: { count: number; first?: string }): Judged {
  const fps = facts.fps;
  const lastFrame = facts.frameCount - 1;
  const frameOf = (timecode: string | null) => {
    const s = timecodeSeconds(timecode);
    return s === undefined ? undefined : Math.round(s * fps);
  };
  const sceneFrames = a.scenes.map((s) => ({ start: frameOf(s.timestamps.start_timestamp), end: frameOf(s.timestamps.end_timestamp) }));
  const framesKnown = sceneFrames.every((s) => s.start !== undefined && s.end !== undefined);
  const at = (frame: number) => seconds(frame / fps);

  const rules: Record<AnomalyRule, () => RuleVerdict> = {
    coverage: () => {
      const bad = sceneFrames.findIndex((s) => s.start === undefined || s.end === undefined);
      if (bad >= 0) return `scene ${a.scenes[bad]!.sceneId}: its start or end is not a timecode (${JSON.stringify(a.scenes[bad]!.timestamps)})`;
      const tolerance = Math.round(p.coverageToleranceSec * fps);
      const frames = sceneFrames as { start: number; end: number }[];
      if (frames[0]!.start > tolerance) return `the first scene starts at ${at(frames[0]!.start)}, more than ${p.coverageToleranceSec} s after the video's start`;
      if (frames.at(-1)!.end < lastFrame - tolerance) return `the last scene ends at ${at(frames.at(-1)!.end)}, more than ${p.coverageToleranceSec} s before the video's end (${at(lastFrame)})`;
      for (const [i, s] of frames.entries()) {
        if (s.end < s.start) return `scene ${a.scenes[i]!.sceneId} ends (${at(s.end)}) before it starts (${at(s.start)})`;
        if (i === 0) continue;
        const gap = s.start - (frames[i - 1]!.end + 1);
        if (gap > 0) return `a gap of ${gap} frames before scene ${a.scenes[i]!.sceneId}`;
        if (gap < 0) return `scene ${a.scenes[i]!.sceneId} overlaps the previous one by ${-gap} frames`;
      }
      return undefined;
    },
    'early-stop': () => {
      if (facts.modelEndSec === null) return SKIP;
      const duration = facts.frameCount / fps;
      const gap = duration - facts.modelEndSec;
      if (facts.modelEndSec >= duration * p.earlyStopMinCoverage || gap <= p.earlyStopMaxGapSec) return undefined;
      return `the model's scenes end at ${seconds(facts.modelEndSec)} of ${seconds(duration)} (${Math.round((facts.modelEndSec / duration) * 100)}%, under ${Math.round(p.earlyStopMinCoverage * 100)}% and more than ${p.earlyStopMaxGapSec} s before the end): it stopped describing part way`;
    },
    timestamps: () => {
      if (!framesKnown) return `scene boundaries are not timecodes`;
      const tolerance = p.timestampToleranceFrames;
      let count = 0;
      let first: string | undefined;
      for (const [path, text, low, high] of timecodes(a, sceneFrames as { start: number; end: number }[], lastFrame)) {
        if (text === null) continue;
        const frame = frameOf(text);
        const outside = frame === undefined ? 'not a timecode' : frame < Math.max(0, low) - tolerance || frame > Math.min(high, lastFrame) + tolerance ? `outside ${at(Math.max(0, low))}..${at(Math.min(high, lastFrame))}` : undefined;
        if (!outside) continue;
        count++;
        first ??= `${path} = ${JSON.stringify(text)} (${outside})`;
      }
      return count ? `${count} timestamp(s) outside their scene or the video, first ${first}` : undefined;
    },
    'scene-ids': () => {
      const wrong = a.scenes.map((s, i) => [s.sceneId, i + 1]).filter(([id, want]) => id !== want);
      return wrong.length > p.maxSceneIdErrors ? `${wrong.length} scene id(s) not 1..${a.scenes.length} in order (first: ${wrong[0]![0]} at position ${wrong[0]![1]})` : undefined;
    },
    'scene-count': () => {
      const shots = facts.cuts + 1;
      if (a.scenes.length > shots + p.maxExtraScenes) return `${a.scenes.length} scenes for ${shots} detected shot(s) (more than ${p.maxExtraScenes} extra)`;
      if (facts.cuts > a.scenes.length * p.maxCutsPerScene) return `${facts.cuts} detected cuts in ${a.scenes.length} scene(s) (more than ${p.maxCutsPerScene} a scene)`;
      return undefined;
    },
    cast: () => {
      const known = new Set(a.characterList.flatMap((c) => [norm(c.name), norm(c.characterId)]).filter(Boolean));
      const cast = a.scenes.flatMap((s) => s.cast);
      if (!cast.length) return undefined;
      const unknown = cast.filter((name) => !known.has(norm(name)));
      const share = unknown.length / cast.length;
      return share > p.maxUnknownCastShare ? `${unknown.length} of ${cast.length} cast entries name no character of characterList (first: ${JSON.stringify(unknown[0]!.slice(0, 60))})` : undefined;
    },
    storyline: () => {
      const ids = new Set(a.scenes.map((s) => s.sceneId));
      const unknown = a.storylines.scenes.filter((id) => !ids.has(id));
      return unknown.length > p.maxUnknownStorylineScenes ? `storyline scene id(s) ${unknown.slice(0, 5).join(', ')} name no scene` : undefined;
    },
    climax: () => {
      const text = a.storylines.climax.timestamp;
      if (text === null) return undefined;
      const frame = frameOf(text);
      if (frame === undefined) return `the climax ${JSON.stringify(text.slice(0, 40))} is not a timecode`;
      return frame < -p.climaxToleranceFrames || frame > lastFrame + p.climaxToleranceFrames ? `the climax at ${at(frame)} is outside the video (0..${at(lastFrame)})` : undefined;
    },
    qa: () => {
      if (facts.baseline) return SKIP;
      if (a.qAndA.length < p.minQaPairs) return `${a.qAndA.length} Q&A pair(s), expected ${p.minQaPairs}`;
      const empty = a.qAndA.findIndex((q) => !q.question.trim() || !q.answer.trim());
      if (empty >= 0) return `qAndA[${empty}] has an empty question or answer`;
      const seen = new Set<string>();
      for (const q of a.qAndA) {
        const key = norm(q.question);
        if (seen.has(key)) return `the question ${JSON.stringify(q.question.slice(0, 60))} is asked twice`;
        seen.add(key);
      }
      return undefined;
    },
    scores: () => (scoreCheck.count > p.maxScoreErrors ? `${scoreCheck.count} score(s) not a number in [0, 1], first ${scoreCheck.first}` : undefined),
    text: () => {
      if (a.title.trim().length < p.minTextChars) return `the title ${JSON.stringify(a.title.slice(0, 40))} is shorter than ${p.minTextChars} character(s)`;
      if (a.description.trim().length < p.minTextChars) return `the description ${JSON.stringify(a.description.slice(0, 40))} is shorter than ${p.minTextChars} character(s)`;
      return undefined;
    },
    placeholder: () => {
      if (facts.baseline) return SKIP;
      let total = 0;
      let placeholders = 0;
      for (const [path, text] of freeTexts(a)) {
        total++;
        const t = text.trim();
        if (!t || PLACEHOLDER.test(t)) placeholders++;
        const n = norm(t);
        if (n.length >= ECHO_MIN_CHARS && PROMPT_TEXT.includes(n)) return `${path} repeats the annotation prompt (${JSON.stringify(t.slice(0, 60))})`;
      }
      return total && placeholders / total > p.maxPlaceholderShare ? `${placeholders} of ${total} text fields are empty or placeholders ("N/A", "...")` : undefined;
    },
    duration: () => {
      if (facts.metadataDuration === null || !(facts.metadataDuration > 0)) return SKIP;
      const file = facts.frameCount / fps;
      const diff = Math.abs(file - facts.metadataDuration);
      return diff > p.durationToleranceSec ? `the metadata says ${seconds(facts.metadataDuration)}, the file has ${seconds(file)} (more than ${p.durationToleranceSec} s apart)` : undefined;
    },
  };

  const judged: Judged = { violations: [], skipped: [] };
  const disabled = new Set(p.disabled);
  for (const rule of ANOMALY_RULES) {
    if (disabled.has(rule)) continue;
    const verdict = rules[rule]();
    if (verdict === SKIP) judged.skipped.push(rule);
    else if (verdict !== undefined) judged.violations.push({ rule, detail: verdict });
  }
  return judged;
}

/** The report artifacts/anomalies.json: counts per rule and example ids; memory bounded by `examples`. */
export class AnomalyReport {
  private readonly counts = new Map<AnomalyRule, { violations: number; dropped: number; skipped: number; examples: { video_id: string; detail: string }[] }>();
  videos = 0;
  kept = 0;
  dropped = 0;
  errors = 0;

  constructor(private readonly params: AnomalyParams) {
    for (const rule of ANOMALY_RULES) this.counts.set(rule, { violations: 0, dropped: 0, skipped: 0, examples: [] });
  }

  add(videoId: string, judged: Judged): void {
    this.videos++;
    if (judged.violations.length) this.dropped++;
    else this.kept++;
    judged.violations.forEach(({ rule, detail }, k) => {
      const c = this.counts.get(rule)!;
      c.violations++;
      if (k === 0) c.dropped++;
      if (c.examples.length < this.params.examples) c.examples.push({ video_id: videoId, detail });
    });
    for (const rule of judged.skipped) this.counts.get(rule)!.skipped++;
  }

  addError(): void {
    this.errors++;
  }

  toJSON() {
    const disabled = new Set(this.params.disabled);
    return {
      videos: this.videos,
      kept: this.kept,
      dropped: this.dropped,
      errors: this.errors,
      anomalyShare: this.videos ? this.dropped / this.videos : 0,
      /** Per rule: videos breaking it, videos dropped for it (their first rule broken), videos it did not apply to, examples. */
      rules: Object.fromEntries(ANOMALY_RULES.map((rule) => [rule, {
        reason: `anomaly:${rule}`,
        enabled: !disabled.has(rule),
        thresholds: Object.fromEntries(RULE_PARAMS[rule].map((name) => [name, this.params[name]])),
        ...this.counts.get(rule)!,
      }])),
    };
  }
}
