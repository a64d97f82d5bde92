/**
 * The share of a photo that a mask covers, measured twice: in the API's mask PNG, and in the
 * playground's overlay canvas, so a test can check that the page draws the mask it was given.
 */
import type { Page } from 'playwright-core'
import sharp from 'sharp'

/** Mask value from which a pixel counts as inside (8-bit masks, the middle of 0..255). */
const INSIDE_FROM = 128

/** Returns the share of pixels of an 8-bit mask image at or above INSIDE_FROM. */
export async function readMaskedShare(png: Uint8Array): Promise<number> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true })
  let inside = 0
  for (let index = 0; index < data.length; index += info.channels) {
    if ((data[index] ?? 0) >= INSIDE_FROM) inside += 1
  }
  return inside / (info.width * info.height)
}

/**
 * Returns the share of the overlay canvas (`#mask-overlay`) that is tinted.
 *
 * The overlay's green channel is max(255 - mask, tint green), and the tint's green (0x21) is
 * far below 128, so green < 128 exactly where the mask is at or above 128, as in
 * `readMaskedShare`. The canvas is readable because the local stack serves the mask from the
 * page's own origin.
 */
export async function readOverlayShare(page: Page): Promise<number> {
  return page.evaluate((insideFrom) => {
    const canvas = document.getElementById('mask-overlay') as HTMLCanvasElement
    const context = canvas.getContext('2d')
    if (!context) throw new Error('The mask overlay has no 2D context.')
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height)
    let tinted = 0
    for (let index = 1; index < data.length; index += 4) {
      if ((data[index] ?? 255) < insideFrom) tinted += 1
    }
    return tinted / (canvas.width * canvas.height)
  }, INSIDE_FROM)
}
