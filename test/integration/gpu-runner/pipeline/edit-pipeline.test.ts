import { readFileSync } from 'node:fs'

import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { decodeImage } from '../../../../gpu-runner/image/intake.ts'
import { loadEditPipeline, type EditPipeline } from '../../../../gpu-runner/pipeline/run-edit.ts'
import type { EditPipelineRequest } from '../../../../gpu-runner/pipeline/types.ts'
import { EditSettingsSchema, type EditSettings } from '../../../../shared/schemas/edit-settings.ts'

const PHOTOS = new URL('../../../fixtures/photos/', import.meta.url)
const LOAD_TIMEOUT_MS = 120_000
const EDIT_TIMEOUT_MS = 120_000

// Few steps keep the suite fast; the loop's maths is covered step by step in the unit tests.
function makeSettings(overrides: Partial<EditSettings> = {}): EditSettings {
  return EditSettingsSchema.parse({ steps: 3, seed: 7, grow_mask: 4, feather: 4, ...overrides })
}

interface Rect {
  x0: number
  y0: number
  x1: number
  y1: number
}

async function makeMaskPng(width: number, height: number, rect: Rect): Promise<Uint8Array> {
  const data = new Uint8Array(width * height)
  for (let y = rect.y0; y < rect.y1; y++) data.fill(255, y * width + rect.x0, y * width + rect.x1)
  return sharp(data, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer()
}

async function makePhoto(width: number, height: number): Promise<Uint8Array> {
  // A gradient with some texture, so that a changed pixel is visible in the comparison.
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < width * height; i++) {
    const x = i % width
    const y = Math.floor(i / width)
    data[i * 3] = (x * 7) % 256
    data[i * 3 + 1] = (y * 5) % 256
    data[i * 3 + 2] = (x + y) % 256
  }
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer()
}

async function readRgb(
  bytes: Uint8Array
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { data: new Uint8Array(data), width: info.width, height: info.height }
}

/** Counts differing pixels inside and outside `rect` grown by `margin` pixels. */
function compareAroundRect(
  before: { data: Uint8Array; width: number; height: number },
  after: { data: Uint8Array },
  rect: Rect,
  margin: number
): { changedOutside: number; changedInside: number } {
  let changedOutside = 0
  let changedInside = 0
  for (let y = 0; y < before.height; y++) {
    for (let x = 0; x < before.width; x++) {
      const i = (y * before.width + x) * 3
      const differs =
        before.data[i] !== after.data[i] ||
        before.data[i + 1] !== after.data[i + 1] ||
        before.data[i + 2] !== after.data[i + 2]
      if (!differs) continue
      const near =
        x >= rect.x0 - margin &&
        x < rect.x1 + margin &&
        y >= rect.y0 - margin &&
        y < rect.y1 + margin
      if (near) changedInside++
      else changedOutside++
    }
  }
  return { changedOutside, changedInside }
}

describe('edit pipeline on the tiny profile', () => {
  let pipeline: EditPipeline

  beforeAll(async () => {
    pipeline = await loadEditPipeline({ profile: 'tiny' })
  }, LOAD_TIMEOUT_MS)

  afterAll(async () => {
    await pipeline?.release()
  })

  const runWithMask = (request: Omit<EditPipelineRequest, 'edits'> & { prompt?: string }) =>
    pipeline.run({
      ...request,
      edits: [{ entity: 'object', prompt: request.prompt ?? 'a red ball' }],
    })

  it(
    'keeps pixels outside the mask byte-identical',
    async () => {
      const image = await makePhoto(333, 211)
      const rect = { x0: 120, y0: 60, x1: 180, y1: 130 }
      const settings = makeSettings()

      const result = await runWithMask({ image, mask: await makeMaskPng(333, 211, rect), settings })

      const before = await readRgb(image)
      const after = await readRgb(result.image)
      const margin = settings.grow_mask + settings.feather + 1
      const { changedOutside, changedInside } = compareAroundRect(before, after, rect, margin)
      expect(changedOutside).toBe(0)
      expect(changedInside).toBeGreaterThan(0)
      expect(result.maskFromCache).toBe(true)
    },
    EDIT_TIMEOUT_MS
  )

  it.each([
    [7, 5000],
    [5000, 7],
    [333, 211],
    [1, 1],
  ])(
    'returns the input size for %ix%i',
    async (width, height) => {
      const image = await makePhoto(width, height)
      const rect = {
        x0: Math.floor(width / 2),
        y0: Math.floor(height / 2),
        x1: Math.floor(width / 2) + 1,
        y1: Math.floor(height / 2) + 1,
      }

      const result = await runWithMask({
        image,
        mask: await makeMaskPng(width, height, rect),
        settings: makeSettings(),
      })

      const meta = await sharp(result.image).metadata()
      expect([meta.width, meta.height]).toEqual([width, height])
      expect([result.width, result.height]).toEqual([width, height])
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'edits an entity smaller than a latent cell',
    async () => {
      const image = await makePhoto(640, 480)
      const rect = { x0: 300, y0: 200, x1: 303, y1: 203 }
      const settings = makeSettings({ grow_mask: 0, feather: 0 })

      const result = await runWithMask({ image, mask: await makeMaskPng(640, 480, rect), settings })

      const { changedOutside, changedInside } = compareAroundRect(
        await readRgb(image),
        await readRgb(result.image),
        rect,
        1
      )
      expect(changedOutside).toBe(0)
      expect(changedInside).toBeGreaterThan(0)
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'returns EXIF-rotated input upright',
    async () => {
      const image = readFileSync(new URL('waterfall-exif-orientation-6.jpg', PHOTOS))
      const rect = { x0: 100, y0: 100, x1: 200, y1: 180 }
      const settings = makeSettings()

      const result = await runWithMask({ image, mask: await makeMaskPng(600, 450, rect), settings })

      const upright = (await decodeImage(image)).image
      const after = await readRgb(result.image)
      expect([after.width, after.height]).toEqual([600, 450])
      const margin = settings.grow_mask + settings.feather + 1
      expect(compareAroundRect(upright, after, rect, margin).changedOutside).toBe(0)
      expect((await sharp(result.image).metadata()).orientation).toBeUndefined()
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'gives the same bytes for the same seed',
    async () => {
      const image = await makePhoto(200, 150)
      const mask = await makeMaskPng(200, 150, { x0: 50, y0: 40, x1: 120, y1: 110 })

      const first = await runWithMask({ image, mask, settings: makeSettings({ seed: 11 }) })
      const second = await runWithMask({ image, mask, settings: makeSettings({ seed: 11 }) })
      const other = await runWithMask({ image, mask, settings: makeSettings({ seed: 12 }) })

      expect(Buffer.from(second.image).equals(Buffer.from(first.image))).toBe(true)
      expect(Buffer.from(other.image).equals(Buffer.from(first.image))).toBe(false)
      expect(first.seed).toBe(11)
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'reports a random seed when none is given',
    async () => {
      const image = await makePhoto(64, 64)
      const mask = await makeMaskPng(64, 64, { x0: 10, y0: 10, x1: 30, y1: 30 })

      const result = await runWithMask({ image, mask, settings: makeSettings({ seed: undefined }) })

      expect(Number.isInteger(result.seed)).toBe(true)
      expect(result.seed).toBeGreaterThanOrEqual(0)
      expect(result.seed).toBeLessThan(2 ** 32)
    },
    EDIT_TIMEOUT_MS
  )

  it.each([
    ['remove mode', { prompt: '' }, {}],
    ['keep-shape mode', { prompt: 'a blue vase' }, { keep_shape: true, strength: 0.5 }],
  ] as const)(
    'changes only the masked region in %s',
    async (_name, edit, overrides) => {
      const image = await makePhoto(256, 192)
      const rect = { x0: 90, y0: 70, x1: 150, y1: 130 }
      const settings = makeSettings({ steps: 4, ...overrides })

      const result = await runWithMask({
        image,
        mask: await makeMaskPng(256, 192, rect),
        settings,
        ...edit,
      })

      const margin = settings.grow_mask + settings.feather + 1
      const counts = compareAroundRect(
        await readRgb(image),
        await readRgb(result.image),
        rect,
        margin
      )
      expect(counts.changedOutside).toBe(0)
      expect(counts.changedInside).toBeGreaterThan(0)
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'keep-shape stays closer to the original than a full edit',
    async () => {
      const image = await makePhoto(256, 192)
      const mask = await makeMaskPng(256, 192, { x0: 90, y0: 70, x1: 150, y1: 130 })

      const full = await runWithMask({ image, mask, settings: makeSettings({ steps: 10 }) })
      const kept = await runWithMask({
        image,
        mask,
        settings: makeSettings({ steps: 10, keep_shape: true, strength: 0.3 }),
      })

      const before = await readRgb(image)
      const distance = async (bytes: Uint8Array) => {
        const after = await readRgb(bytes)
        let sum = 0
        for (let i = 0; i < before.data.length; i++)
          sum += Math.abs(before.data[i]! - after.data[i]!)
        return sum
      }
      expect(await distance(kept.image)).toBeLessThan(await distance(full.image))
    },
    EDIT_TIMEOUT_MS
  )

  it.each(['png', 'jpeg', 'webp'] as const)(
    'encodes %s output',
    async (format) => {
      const image = await makePhoto(96, 64)
      const mask = await makeMaskPng(96, 64, { x0: 30, y0: 20, x1: 60, y1: 40 })

      const result = await runWithMask({
        image,
        mask,
        settings: makeSettings({ output_format: format }),
      })

      expect((await sharp(result.image).metadata()).format).toBe(format)
      expect(result.format).toBe(format)
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'rejects a mask of another size',
    async () => {
      const image = await makePhoto(96, 64)
      const mask = await makeMaskPng(64, 64, { x0: 0, y0: 0, x1: 10, y1: 10 })

      const error = await runWithMask({ image, mask, settings: makeSettings() }).catch(
        (e: unknown) => e
      )

      expect(error).toBeInstanceOf(RunnerError)
      expect((error as RunnerError).code).toBe('invalid-input')
      expect((error as RunnerError).message).toMatch(/64.*64|96/)
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'rejects an empty mask',
    async () => {
      const image = await makePhoto(96, 64)
      const mask = await makeMaskPng(96, 64, { x0: 0, y0: 0, x1: 0, y1: 0 })

      const error = await runWithMask({ image, mask, settings: makeSettings() }).catch(
        (e: unknown) => e
      )

      expect((error as RunnerError).code).toBe('invalid-input')
      expect((error as RunnerError).message).toContain('is empty')
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'rejects a mask with several edits',
    async () => {
      const image = await makePhoto(96, 64)
      const mask = await makeMaskPng(96, 64, { x0: 10, y0: 10, x1: 20, y1: 20 })

      const error = await pipeline
        .run({
          image,
          mask,
          settings: makeSettings(),
          edits: [
            { entity: 'a', prompt: 'b' },
            { entity: 'c', prompt: 'd' },
          ],
        })
        .catch((e: unknown) => e)

      expect((error as RunnerError).code).toBe('invalid-input')
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'stops when the signal is aborted',
    async () => {
      const image = await makePhoto(96, 64)
      const mask = await makeMaskPng(96, 64, { x0: 10, y0: 10, x1: 40, y1: 40 })
      const controller = new AbortController()
      let steps = 0

      const error = await runWithMask({
        image,
        mask,
        settings: makeSettings({ steps: 20 }),
        signal: controller.signal,
        onProgress: () => {
          steps++
          if (steps === 2) controller.abort()
        },
      }).catch((e: unknown) => e)

      expect((error as RunnerError).code).toBe('canceled')
      expect(steps).toBe(2)
    },
    EDIT_TIMEOUT_MS
  )

  it(
    'finds the entity and edits it in order',
    async () => {
      const image = readFileSync(new URL('orange-beetle-car.jpg', PHOTOS))

      const result = await pipeline.run({
        image,
        settings: makeSettings({ steps: 2 }),
        edits: [
          { entity: 'car', prompt: 'a blue car' },
          { entity: 'road', prompt: 'a wet road' },
        ],
      })

      expect(result.maskFromCache).toBe(false)
      expect(result.selected.length).toBeGreaterThan(0)
      expect(result.candidates.length).toBeGreaterThanOrEqual(result.selected.length)
      expect(result.timingsMs.segmentation_encoder).toBeGreaterThan(0)
      const mask = await sharp(result.mask).raw().toBuffer()
      expect(mask.some((value) => value === 255)).toBe(true)
      expect([result.width, result.height]).toEqual([640, 360])
    },
    EDIT_TIMEOUT_MS * 2
  )
})
