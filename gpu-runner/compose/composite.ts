/**
 * Compositing of a regenerated window back into the full-resolution photo.
 */
import type { GrayMask, RgbImage } from '../image/types.ts'
import type { PixelBox } from '../pipeline/types.ts'
import { nonZeroBounds } from './bounds.ts'
import { resizeRgbPart } from './resize.ts'
import type { WorkingWindow } from './window.ts'

/**
 * Blends a generated window into a copy of the original photo.
 *
 * The generated window is resized (Lanczos-3) from model size to the window's size, then each
 * pixel becomes round((g × a + o × (255 − a)) / 255) for generated g, original o and alpha a.
 * Pixels with alpha 0 keep the original's bytes. Only the bounding box of the non-zero alpha is
 * resized and blended, because the window's context margin is never pasted back.
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
  assertSizes(original, generatedWindow, window, alpha)
  const blendBox = nonZeroBounds(alpha)
  if (blendBox !== undefined) assertInside(blendBox, window.box)

  const out = new Uint8Array(original.data)
  if (blendBox !== undefined) {
    const generated = await resizeToBlendBox(generatedWindow, window, blendBox)
    blendInto(out, original.width, generated, blendBox, alpha)
  }
  return { data: out, width: original.width, height: original.height }
}

/** Resizes the generated window to the window's size and returns the part under blendBox. */
async function resizeToBlendBox(
  generatedWindow: RgbImage,
  window: WorkingWindow,
  blendBox: PixelBox
): Promise<RgbImage> {
  const [wx0, wy0, wx1, wy1] = window.box
  const [bx0, by0, bx1, by1] = blendBox
  return resizeRgbPart(generatedWindow, { width: wx1 - wx0, height: wy1 - wy0 }, [
    bx0 - wx0,
    by0 - wy0,
    bx1 - wx0,
    by1 - wy0,
  ])
}

/** Blends `generated`, which covers exactly `box`, into `out` with the alpha mask. */
function blendInto(
  out: Uint8Array,
  width: number,
  generated: RgbImage,
  box: PixelBox,
  alpha: GrayMask
): void {
  const [x0, y0, x1, y1] = box
  const boxWidth = x1 - x0
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const a = alpha.data[y * width + x]!
      if (a === 0) continue
      const o = (y * width + x) * 3
      const g = ((y - y0) * boxWidth + (x - x0)) * 3
      if (a === 255) {
        out[o] = generated.data[g]!
        out[o + 1] = generated.data[g + 1]!
        out[o + 2] = generated.data[g + 2]!
        continue
      }
      out[o] = blendChannel(generated.data[g]!, out[o]!, a)
      out[o + 1] = blendChannel(generated.data[g + 1]!, out[o + 1]!, a)
      out[o + 2] = blendChannel(generated.data[g + 2]!, out[o + 2]!, a)
    }
  }
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

function assertInside(blendBox: PixelBox, windowBox: PixelBox): void {
  const inside =
    blendBox[0] >= windowBox[0] &&
    blendBox[1] >= windowBox[1] &&
    blendBox[2] <= windowBox[2] &&
    blendBox[3] <= windowBox[3]
  if (!inside) {
    throw new RangeError(
      `alpha is non-zero within [${blendBox.join(', ')}], ` +
        `outside the window [${windowBox.join(', ')}]`
    )
  }
}
