/** Seeded test rasters for the compose tests. */
import type { GrayMask, RgbImage } from '../../../../gpu-runner/image/types.ts'

/** Returns a deterministic generator of integers in [0, 2³²), Mulberry32 seeded with `seed`. */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** Builds an RGB image of random bytes. */
export function makeNoiseImage(width: number, height: number, seed = 1): RgbImage {
  const next = makeRandom(seed)
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i++) data[i] = next() & 0xff
  return { data, width, height }
}

/** Builds a mask with 255 on the listed pixels and 0 elsewhere. */
export function makeMask(
  width: number,
  height: number,
  pixels: ReadonlyArray<readonly [number, number]> = []
): GrayMask {
  const data = new Uint8Array(width * height)
  for (const [x, y] of pixels) data[y * width + x] = 255
  return { data, width, height }
}

/** Builds a mask that is 255 inside the ellipse centred at (cx, cy) with radii rx and ry. */
export function makeEllipseMask(
  width: number,
  height: number,
  ellipse: { cx: number; cy: number; rx: number; ry: number }
): GrayMask {
  const { cx, cy, rx, ry } = ellipse
  const data = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = (x - cx) / rx
      const v = (y - cy) / ry
      if (u * u + v * v <= 1) data[y * width + x] = 255
    }
  }
  return { data, width, height }
}

/** Builds a mask where each pixel is 255 with probability `density`. */
export function makeRandomMask(width: number, height: number, density: number, seed = 2): GrayMask {
  const next = makeRandom(seed)
  const data = new Uint8Array(width * height)
  for (let i = 0; i < data.length; i++) data[i] = next() / 2 ** 32 < density ? 255 : 0
  return { data, width, height }
}
