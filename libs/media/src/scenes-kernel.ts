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
 */
export class LinearDownscaler {
  private readonly areaFast2x: boolean;
  private readonly xOffset: Int32Array;
  private readonly xWeight0: Int32Array;
  private readonly xWeight1: Int32Array;
  private readonly xClamped: Uint8Array;
  private readonly yOffset: Int32Array;
  private readonly yWeight0: Int32Array;
  private readonly yWeight1: Int32Array;
  private readonly row0: Int32Array;
  private readonly row1: Int32Array;

  constructor(
    readonly sourceWidth: number, readonly sourceHeight: number,
    readonly targetWidth: number, readonly targetHeight: number,
  ) {
    // OpenCV switches INTER_LINEAR to its exact "area fast" 2x2 average when both scales are exactly 2.
    const scaleX = 1 / (targetWidth / sourceWidth);
    const scaleY = 1 / (targetHeight / sourceHeight);
    this.areaFast2x = Math.abs(scaleX - 2) < Number.EPSILON && Math.abs(scaleY - 2) < Number.EPSILON;
    const x = linearAxis(sourceWidth, targetWidth);
    const y = linearAxis(sourceHeight, targetHeight);
    this.xOffset = x.offset; this.xWeight0 = x.weight0; this.xWeight1 = x.weight1; this.xClamped = x.clamped;
    this.yOffset = y.offset; this.yWeight0 = y.weight0; this.yWeight1 = y.weight1;
    const rowBytes = targetWidth * 3;
    this.row0 = new Int32Array(rowBytes);
    this.row1 = new Int32Array(rowBytes);
  }

  /** Writes the shrunk frame (targetWidth x targetHeight x 3) into `target`. */
  resize(source: Uint8Array, target: Uint8Array): void {
    if (this.areaFast2x) return this.resizeArea2x(source, target);
    const { sourceWidth, sourceHeight, targetWidth, targetHeight, row0, row1 } = this;
    const sourceStride = sourceWidth * 3;
    const rowBytes = targetWidth * 3;
    let out = 0;
    for (let dy = 0; dy < targetHeight; dy++) {
      const sy = this.yOffset[dy]!;
      this.horizontal(source, sy * sourceStride, row0);
      this.horizontal(source, Math.min(sy + 1, sourceHeight - 1) * sourceStride, row1);
      const b0 = this.yWeight0[dy]!;
      const b1 = this.yWeight1[dy]!;
      // OpenCV's SIMD vertical pass (16-bit high products of (row >> 4) and the weight, then
      // (x + 2) >> 2), which cv2 output matches on every byte of a row, tail included.
      for (let i = 0; i < rowBytes; i++) {
        const v = ((((row0[i]! >> 4) * b0) >> 16) + (((row1[i]! >> 4) * b1) >> 16) + 2) >> 2;
        target[out++] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }

  private horizontal(source: Uint8Array, rowStart: number, row: Int32Array): void {
    const { targetWidth, xOffset, xWeight0, xWeight1, xClamped } = this;
    let o = 0;
    for (let dx = 0; dx < targetWidth; dx++) {
      const s = rowStart + xOffset[dx]! * 3;
      if (xClamped[dx]) {
        row[o++] = source[s]! * COEF_SCALE;
        row[o++] = source[s + 1]! * COEF_SCALE;
        row[o++] = source[s + 2]! * COEF_SCALE;
      } else {
        const a0 = xWeight0[dx]!;
        const a1 = xWeight1[dx]!;
        row[o++] = source[s]! * a0 + source[s + 3]! * a1;
        row[o++] = source[s + 1]! * a0 + source[s + 4]! * a1;
        row[o++] = source[s + 2]! * a0 + source[s + 5]! * a1;
      }
    }
  }

  private resizeArea2x(source: Uint8Array, target: Uint8Array): void {
    const { sourceWidth, targetWidth, targetHeight } = this;
    const stride = sourceWidth * 3;
    let out = 0;
    for (let dy = 0; dy < targetHeight; dy++) {
      const top = dy * 2 * stride;
      const bottom = top + stride;
      for (let dx = 0; dx < targetWidth; dx++) {
        const s = dx * 6;
        for (let c = 0; c < 3; c++) {
          target[out++] = (source[top + s + c]! + source[top + s + 3 + c]! + source[bottom + s + c]! + source[bottom + s + 3 + c]! + 2) >> 2;
        }
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
 * Converts packed BGR to planar H, S, V as cv2.cvtColor(frame, COLOR_BGR2HSV) does for 8-bit images,
 * then returns the sums of absolute differences against the previous planes (Python ints there; exact
 * here since a sum stays far below 2^53).
 */
export function hsvPlanes(bgr: Uint8Array, pixels: number, hue: Uint8Array, saturation: Uint8Array, value: Uint8Array): void {
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
    hue[p] = h;
    saturation[p] = s;
    value[p] = v;
  }
}

/** Sum of |a - b| over two planes of equal length. */
export function absoluteDifferenceSum(a: Uint8Array, b: Uint8Array, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const d = a[i]! - b[i]!;
    sum += d < 0 ? -d : d;
  }
  return sum;
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
