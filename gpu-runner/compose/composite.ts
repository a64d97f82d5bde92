/**
 * Compositing of a regenerated window back into the full-resolution photo.
 */
import type { GrayMask, RgbImage } from '../image/types.ts'
import type { PixelBox } from '../pipeline/types.ts'
import { cropResizeRgb } from './resize.ts'
import type { WorkingWindow } from './window.ts'

/**
 * Blends a generated window into a copy of the original photo.
 *
 * The generated window is resized (Lanczos-3) from model size to the window's size, then each
 * window pixel becomes round((g × a + o × (255 − a)) / 255) for generated g, original o and
 * alpha a. Pixels with alpha 0, and every pixel outside the window, keep the original's bytes.
 *
 * @param generatedWindow RGB at the window's model size.
 * @param alpha Blend alpha at the original's size (0 keeps, 255 replaces), zero outside the window.
 * @returns A new image of the original's size; the inputs are not modified.
 * @throws RangeError when sizes disagree or alpha is non-zero outside the window, which would
 *   otherwise drop part of the edit without notice.
 */
export async function compositeWindow(
  original: RgbImage,
  generatedWindow: RgbImage,
  window: WorkingWindow,
  alpha: GrayMask
): Promise<RgbImage> {
  const { box, modelWidth, modelHeight } = window
  assertSizes(original, generatedWindow, window, alpha)
  assertAlphaInsideBox(alpha, box)

  const [x0, y0, x1, y1] = box
  const windowWidth = x1 - x0
  const resized = await cropResizeRgb(generatedWindow, [0, 0, modelWidth, modelHeight], {
    width: windowWidth,
    height: y1 - y0,
  })

  const out = new Uint8Array(original.data)
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const a = alpha.data[y * original.width + x]!
      if (a === 0) continue
      const o = (y * original.width + x) * 3
      const g = ((y - y0) * windowWidth + (x - x0)) * 3
      out[o] = blendChannel(resized.data[g]!, out[o]!, a)
      out[o + 1] = blendChannel(resized.data[g + 1]!, out[o + 1]!, a)
      out[o + 2] = blendChannel(resized.data[g + 2]!, out[o + 2]!, a)
    }
  }
  return { data: out, width: original.width, height: original.height }
}

/**
 * Blends one 8-bit channel: round((generated × alpha + original × (255 − alpha)) / 255).
 *
 * The division uses the exact integer identity round(t / 255) = (u + (u >> 8)) >> 8 with
 * u = t + 128, which holds for t in [0, 255²].
 */
export function blendChannel(generated: number, original: number, alpha: number): number {
  const u = generated * alpha + original * (255 - alpha) + 128
  return (u + (u >> 8)) >> 8
}

function assertSizes(
  original: RgbImage,
  generated: RgbImage,
  window: WorkingWindow,
  alpha: GrayMask
): void {
  const { width, height } = original
  if (original.data.length !== width * height * 3) {
    throw new RangeError(
      `original has ${original.data.length} bytes, expected ${width}×${height}×3`
    )
  }
  if (alpha.width !== width || alpha.height !== height || alpha.data.length !== width * height) {
    throw new RangeError(`alpha is ${alpha.width}×${alpha.height}, expected ${width}×${height}`)
  }
  if (generated.width !== window.modelWidth || generated.height !== window.modelHeight) {
    throw new RangeError(
      `generated window is ${generated.width}×${generated.height}, ` +
        `expected the model size ${window.modelWidth}×${window.modelHeight}`
    )
  }
  const [x0, y0, x1, y1] = window.box
  if (!(x0 >= 0 && y0 >= 0 && x0 < x1 && y0 < y1 && x1 <= width && y1 <= height)) {
    throw new RangeError(
      `window [${window.box.join(', ')}] is not inside the ${width}×${height} image`
    )
  }
}

function assertAlphaInsideBox(alpha: GrayMask, box: PixelBox): void {
  const [x0, y0, x1, y1] = box
  const { data, width, height } = alpha
  const check = (start: number, end: number): void => {
    for (let i = start; i < end; i++) {
      if (data[i] !== 0) {
        const x = i % width
        const y = (i - x) / width
        throw new RangeError(
          `alpha is ${data[i]} at (${x}, ${y}), outside the window [${box.join(', ')}]`
        )
      }
    }
  }

  check(0, y0 * width)
  for (let y = y0; y < y1; y++) {
    check(y * width, y * width + x0)
    check(y * width + x1, (y + 1) * width)
  }
  check(y1 * width, height * width)
}
