/**
 * The pixel arithmetic of PySceneDetect 0.6's ContentDetector, bit for bit:
 * - the SceneManager's default downscale (factor = width // 256, then cv2.resize with INTER_LINEAR to
 *   round(w / factor) x round(h / factor)), as OpenCV 4.x computes it for 8-bit images (fixed-point
 *   coefficients, its SIMD rounding for the vertical pass, and its 2x "area fast" shortcut);
 * - cv2.cvtColor(BGR2HSV) for 8-bit images (H in [0, 180), table-based division with 12-bit shift);
 * - the frame score: mean absolute difference of H, S and V with the previous frame, averaged with
 *   the default weights (1, 1, 1, edges 0).
 * Written from the published algorithms (OpenCV's resize.cpp and color_hsv, PySceneDetect's
 * content_detector.py) and checked against cv2 output; no code copied.
 */

/** PySceneDetect 0.6's DEFAULT_MIN_WIDTH: frames are shrunk by an integer factor to at least this width. */
export const DOWNSCALE_MIN_WIDTH = 256;

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** scenedetect.scene_manager.compute_downscale_factor (0.6). */
export function downscaleFactor(frameWidth: number, minWidth: number = DOWNSCALE_MIN_WIDTH): number {
  return frameWidth < minWidth ? 1 : Math.floor(frameWidth / minWidth);
}

/** The size ContentDetector works at for a source size (SceneManager's auto downscale). */
export function detectorSize(width: number, height: number): { factor: number; width: number; height: number } {
  const factor = downscaleFactor(width);
  if (factor <= 1) return { factor: 1, width, height };
  return { factor, width: roundHalfEven(width / factor), height: roundHalfEven(height / factor) };
}

const COEF_BITS = 11;

const clampByte = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
const COEF_SCALE = 1 << COEF_BITS;

/** cvRound of a float: round half to even (lrint). */
function cvRound(value: number): number {
  return roundHalfEven(value);
}

/** One axis of OpenCV's INTER_LINEAR coefficient tables (float32 positions, 11-bit weights). */
function linearAxis(sourceSize: number, targetSize: number) {
  const inverseScale = targetSize / sourceSize;
  const scale = 1 / inverseScale;
  const offset = new Int32Array(targetSize);
  const weight0 = new Int32Array(targetSize);
  const weight1 = new Int32Array(targetSize);
  const clamped = new Uint8Array(targetSize);
  for (let d = 0; d < targetSize; d++) {
    const position = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(position);
    let fraction = Math.fround(position - s);
    if (s < 0) { s = 0; fraction = 0; }
    if (s + 1 >= sourceSize) clamped[d] = 1;
    if (s >= sourceSize - 1) { s = sourceSize - 1; fraction = 0; }
    offset[d] = s;
    weight0[d] = cvRound(Math.fround(Math.fround(1 - fraction) * COEF_SCALE));
    weight1[d] = cvRound(Math.fround(fraction * COEF_SCALE));
  }
  return { offset, weight0, weight1, clamped };
}

/**
 * Shrinks packed BGR frames exactly as cv2.resize(frame, (w, h), interpolation=INTER_LINEAR) does
 * in OpenCV 4.x for 8-bit, 3-channel images. Buffers are allocated once and reused per frame.
 *
 * Bilinear shrinking reads two columns and two rows per output pixel, so for factors of 3 and more
 * the decoder can hand over only those pixels ("gathered": a 2w x 2h image, see gatherMaps), which
 * is far less to move through a pipe than the whole frame.
 */
export class LinearDownscaler {
  /** OpenCV switches INTER_LINEAR to its exact "area fast" 2x2 average when both scales are exactly 2. */
  readonly areaFast2x: boolean;
  /**
   * Per axis, whether output pixels read two source pixels (columns, rows) or only the first: every output
   * pixel sits exactly on a source pixel (1280 -> 256) when every second weight is 0.
   */
  private readonly columnPairs: boolean;
  private readonly rowPairs: boolean;
  private readonly x: ReturnType<typeof linearAxis>;
  private readonly y: ReturnType<typeof linearAxis>;
  private readonly row0: Int32Array;
  private readonly row1: Int32Array;

  constructor(
    readonly sourceWidth: number, readonly sourceHeight: number,
    readonly targetWidth: number, readonly targetHeight: number,
  ) {
    const scaleX = 1 / (targetWidth / sourceWidth);
    const scaleY = 1 / (targetHeight / sourceHeight);
    this.areaFast2x = Math.abs(scaleX - 2) < Number.EPSILON && Math.abs(scaleY - 2) < Number.EPSILON;
    this.x = linearAxis(sourceWidth, targetWidth);
    this.y = linearAxis(sourceHeight, targetHeight);
    this.columnPairs = this.x.weight1.some((w) => w !== 0);
    this.rowPairs = this.y.weight1.some((w) => w !== 0);
    this.row0 = new Int32Array(targetWidth * 3);
    this.row1 = new Int32Array(targetWidth * 3);
  }

  /** Whether gathered input (gatherMaps) is supported: not for the 2x area path, which reads every pixel. */
  get canGather(): boolean {
    return !this.areaFast2x;
  }

  /**
   * Where a gathered image's pixels come from. Per axis, two taps per output pixel (column 2i holds
   * the first column output column i reads, 2i + 1 the second, clamped to the frame) or, when every
   * second tap has weight 0, one (column i). Rows likewise. With one tap on both axes the gathered
   * image is the shrunk frame itself (`exact`): resizeGathered then copies it.
   */
  gatherMaps(): { width: number; height: number; columns: Uint16Array; rows: Uint16Array; exact: boolean } {
    const taps = (axis: ReturnType<typeof linearAxis>, pairs: boolean, size: number, sourceSize: number) => {
      if (!pairs) return Uint16Array.from(axis.offset);
      const coordinates = new Uint16Array(size * 2);
      for (let d = 0; d < size; d++) {
        coordinates[2 * d] = axis.offset[d]!;
        coordinates[2 * d + 1] = Math.min(axis.offset[d]! + 1, sourceSize - 1);
      }
      return coordinates;
    };
    const columns = taps(this.x, this.columnPairs, this.targetWidth, this.sourceWidth);
    const rows = taps(this.y, this.rowPairs, this.targetHeight, this.sourceHeight);
    return { width: columns.length, height: rows.length, columns, rows, exact: columns.length === this.targetWidth && rows.length === this.targetHeight };
  }

  /** Shrinks a whole frame (sourceWidth x sourceHeight x 3) into `target`. */
  resize(source: Uint8Array, target: Uint8Array): void {
    if (this.areaFast2x) return this.resizeArea2x(source, target);
    const stride = this.sourceWidth * 3;
    const last = this.sourceHeight - 1;
    for (let dy = 0; dy < this.targetHeight; dy++) {
      const sy = this.y.offset[dy]!;
      this.horizontal(source, sy * stride, false, this.row0);
      this.horizontal(source, Math.min(sy + 1, last) * stride, false, this.row1);
      this.vertical(dy, target);
    }
  }

  /**
   * Shrinks a gathered image (see gatherMaps) into `target`; same bytes as resize() on the frame.
   * Both passes in one loop: a gathered image holds exactly the taps each output pixel reads (a
   * clamped or single tap is read twice and weighted 0), so no bounds case and no row buffers.
   */
  resizeGathered(gathered: Uint8Array, target: Uint8Array): void {
    const { weight0, weight1 } = this.x;
    const width = this.targetWidth;
    const { columnPairs, rowPairs } = this;
    if (!columnPairs && !rowPairs) {
      target.set(gathered.subarray(0, width * this.targetHeight * 3));
      return;
    }
    const step = columnPairs ? 6 : 3;
    const second = columnPairs ? 3 : 0;
    const stride = width * step;
    const below = rowPairs ? stride : 0;
    let out = 0;
    for (let dy = 0; dy < this.targetHeight; dy++) {
      const b0 = this.y.weight0[dy]!;
      const b1 = this.y.weight1[dy]!;
      let top = (rowPairs ? 2 * dy : dy) * stride;
      let bottom = top + below;
      for (let dx = 0; dx < width; dx++, top += step, bottom += step) {
        const a0 = weight0[dx]!;
        const a1 = weight1[dx]!;
        // OpenCV's SIMD vertical pass, as vertical() below; the three channels unrolled.
        const u0 = gathered[top]! * a0 + gathered[top + second]! * a1;
        const l0 = gathered[bottom]! * a0 + gathered[bottom + second]! * a1;
        const u1 = gathered[top + 1]! * a0 + gathered[top + second + 1]! * a1;
        const l1 = gathered[bottom + 1]! * a0 + gathered[bottom + second + 1]! * a1;
        const u2 = gathered[top + 2]! * a0 + gathered[top + second + 2]! * a1;
        const l2 = gathered[bottom + 2]! * a0 + gathered[bottom + second + 2]! * a1;
        target[out] = clampByte(((((u0 >> 4) * b0) >> 16) + (((l0 >> 4) * b1) >> 16) + 2) >> 2);
        target[out + 1] = clampByte(((((u1 >> 4) * b0) >> 16) + (((l1 >> 4) * b1) >> 16) + 2) >> 2);
        target[out + 2] = clampByte(((((u2 >> 4) * b0) >> 16) + (((l2 >> 4) * b1) >> 16) + 2) >> 2);
        out += 3;
      }
    }
  }

  /** OpenCV's horizontal pass: two taps with 11-bit weights, kept as integers. */
  private horizontal(source: Uint8Array, rowStart: number, gathered: boolean, row: Int32Array): void {
    const { offset, weight0, weight1, clamped } = this.x;
    const width = this.targetWidth;
    let o = 0;
    for (let dx = 0; dx < width; dx++) {
      const s = rowStart + (gathered ? dx * 6 : offset[dx]! * 3);
      if (clamped[dx]) {
        row[o++] = source[s]! * COEF_SCALE;
        row[o++] = source[s + 1]! * COEF_SCALE;
        row[o++] = source[s + 2]! * COEF_SCALE;
      } else {
        const a0 = weight0[dx]!;
        const a1 = weight1[dx]!;
        row[o++] = source[s]! * a0 + source[s + 3]! * a1;
        row[o++] = source[s + 1]! * a0 + source[s + 4]! * a1;
        row[o++] = source[s + 2]! * a0 + source[s + 5]! * a1;
      }
    }
  }

  /**
   * OpenCV's SIMD vertical pass (16-bit high products of (row >> 4) and the weight, then
   * (x + 2) >> 2), which cv2 output matches on every byte of a row, tail included.
   */
  private vertical(dy: number, target: Uint8Array): void {
    const { row0, row1 } = this;
    const b0 = this.y.weight0[dy]!;
    const b1 = this.y.weight1[dy]!;
    const rowBytes = this.targetWidth * 3;
    let out = dy * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const v = ((((row0[i]! >> 4) * b0) >> 16) + (((row1[i]! >> 4) * b1) >> 16) + 2) >> 2;
      target[out++] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }

  private resizeArea2x(source: Uint8Array, target: Uint8Array): void {
    const { sourceWidth, targetWidth, targetHeight } = this;
    const stride = sourceWidth * 3;
    const rowBytes = targetWidth * 3;
    let out = 0;
    for (let dy = 0; dy < targetHeight; dy++) {
      let top = dy * 2 * stride;
      let bottom = top + stride;
      for (let i = 0; i < rowBytes; i += 3, top += 6, bottom += 6) {
        target[out++] = (source[top]! + source[top + 3]! + source[bottom]! + source[bottom + 3]! + 2) >> 2;
        target[out++] = (source[top + 1]! + source[top + 4]! + source[bottom + 1]! + source[bottom + 4]! + 2) >> 2;
        target[out++] = (source[top + 2]! + source[top + 5]! + source[bottom + 2]! + source[bottom + 5]! + 2) >> 2;
      }
    }
  }
}

const HSV_SHIFT = 12;
const HSV_ROUND = 1 << (HSV_SHIFT - 1);
/** OpenCV's division tables for 8-bit HSV: round((255 << 12) / v) and round((180 << 12) / (6 * diff)). */
const SATURATION_DIVISOR = new Int32Array(256);
const HUE_DIVISOR = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  SATURATION_DIVISOR[i] = Math.round((255 << HSV_SHIFT) / i);
  HUE_DIVISOR[i] = Math.round((180 << HSV_SHIFT) / (6 * i));
}

/**
 * Converts packed BGR to planar H, S, V as cv2.cvtColor(frame, COLOR_BGR2HSV) does for 8-bit images
 * (H in [0, 180)), writing the planes and, in the same pass, summing the absolute differences with
 * the previous frame's planes (PySceneDetect's numpy sums, exact here: far below 2^53).
 */
export function hsvAndDifferences(
  bgr: Uint8Array, pixels: number,
  hue: Uint8Array, saturation: Uint8Array, value: Uint8Array,
  previousHue: Uint8Array, previousSaturation: Uint8Array, previousValue: Uint8Array,
  sums: Float64Array,
): void {
  let hueSum = 0;
  let saturationSum = 0;
  let valueSum = 0;
  for (let p = 0, i = 0; p < pixels; p++, i += 3) {
    const b = bgr[i]!;
    const g = bgr[i + 1]!;
    const r = bgr[i + 2]!;
    let v = b > g ? b : g;
    if (r > v) v = r;
    let min = b < g ? b : g;
    if (r < min) min = r;
    const diff = v - min;
    const s = (diff * SATURATION_DIVISOR[v]! + HSV_ROUND) >> HSV_SHIFT;
    let h: number;
    if (v === r) h = g - b;
    else if (v === g) h = b - r + 2 * diff;
    else h = r - g + 4 * diff;
    h = (h * HUE_DIVISOR[diff]! + HSV_ROUND) >> HSV_SHIFT;
    if (h < 0) h += 180;
    const dh = h - previousHue[p]!;
    const ds = s - previousSaturation[p]!;
    const dv = v - previousValue[p]!;
    hueSum += dh < 0 ? -dh : dh;
    saturationSum += ds < 0 ? -ds : ds;
    valueSum += dv < 0 ? -dv : dv;
    hue[p] = h;
    saturation[p] = s;
    value[p] = v;
  }
  sums[0] = hueSum;
  sums[1] = saturationSum;
  sums[2] = valueSum;
}

/** cv2.cvtColor(frame, COLOR_BGR2HSV) for 8-bit images, to planes (hsvAndDifferences without the sums). */
export function hsvPlanes(bgr: Uint8Array, pixels: number, hue: Uint8Array, saturation: Uint8Array, value: Uint8Array): void {
  // Each pixel's old value is read before it is overwritten, so the planes can be their own "previous".
  hsvAndDifferences(bgr, pixels, hue, saturation, value, hue, saturation, value, new Float64Array(3));
}

/**
 * ContentDetector's frame score with default weights: components are float means, summed in the
 * order hue, saturation, luma (then edges 0.0), divided by the sum of weights (3.0).
 */
export function contentScore(hueSum: number, saturationSum: number, valueSum: number, pixels: number): number {
  const deltaHue = hueSum / pixels;
  const deltaSat = saturationSum / pixels;
  const deltaLum = valueSum / pixels;
  return (0 + deltaHue + deltaSat + deltaLum + 0) / 3;
}
