/**
 * The numeric columns the video list filters by range and draws histograms of, shared by the server
 * (src/) and the page (web/): this module imports nothing, so the browser bundle can read it.
 * Each field is filtered by the URL parameters min<Stem> and max<Stem> (minDuration, maxWordDensity...).
 */
export const RANGE_FIELDS = {
  duration: { column: 'duration', stem: 'Duration', label: 'duration', unit: 's', integer: false },
  dynamism: { column: 'dynamism', stem: 'Dynamism', label: 'dynamism', unit: '', integer: false },
  wordDensity: { column: 'word_density', stem: 'WordDensity', label: 'word density', unit: 'words/s', integer: false },
  score: { column: 'score', stem: 'Score', label: 'select score', unit: '', integer: false },
  scenes: { column: 'scenes', stem: 'Scenes', label: 'scenes', unit: '', integer: true },
  qa: { column: 'qa_pairs', stem: 'Qa', label: 'Q&A pairs', unit: '', integer: true },
} as const;

export type RangeField = keyof typeof RANGE_FIELDS;
export const RANGE_KEYS = Object.keys(RANGE_FIELDS) as RangeField[];

type Stem = (typeof RANGE_FIELDS)[RangeField]['stem'];
export type RangeParam = `min${Stem}` | `max${Stem}`;

/** The bounds of every range filter, as the list's query carries them (undefined: unbounded). */
export type RangeBounds = { [P in RangeParam]?: number | undefined };

export const minParam = (field: RangeField): RangeParam => `min${RANGE_FIELDS[field].stem}`;
export const maxParam = (field: RangeField): RangeParam => `max${RANGE_FIELDS[field].stem}`;

/** Every range parameter, min and max of each field in order. */
export const RANGE_PARAMS: RangeParam[] = RANGE_KEYS.flatMap((f) => [minParam(f), maxParam(f)]);

/** One field's histogram over the filtered list (the field's own bounds left out, so its handles can widen). */
export interface Histogram {
  field: RangeField;
  /** The field's smallest and largest value over every video (null: no video has one): the slider's ends. */
  min: number | null;
  max: number | null;
  /** Equal-width bins from min to max; the last includes max. */
  bins: { from: number; to: number; videos: number }[];
  /** Videos of the filtered list without a value for the field (a stage that did not reach them). */
  missing: number;
}
