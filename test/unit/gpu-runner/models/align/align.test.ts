import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../../gpu-runner/errors.ts'
import type { RgbImage } from '../../../../../gpu-runner/image/types.ts'
import { alignEntity, embedEntityText } from '../../../../../gpu-runner/models/align/align.ts'
import type { ClipEncoders } from '../../../../../gpu-runner/models/align/clip-encoders.ts'
import {
  CLIP_MEAN_FILL,
  type ProposalMask,
} from '../../../../../gpu-runner/models/align/masked-canvas.ts'
import { PROMPT_TEMPLATES } from '../../../../../gpu-runner/models/align/prompts.ts'
import {
  CLIP_IMAGE_SIZE,
  CLIP_MEAN,
  CLIP_STD,
} from '../../../../../gpu-runner/tensor/clip-preprocess.ts'
import {
  CLIP_MAX_TOKENS,
  loadClipTokenizer,
} from '../../../../../gpu-runner/text/clip-tokenizer.ts'

const tokenizer = loadClipTokenizer()
const PLANE = CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE
const THRESHOLDS = { match: 0.5, notFound: 0.3 }

/** One call an encoder received. */
interface EncoderCall {
  readonly count: number
  readonly values: readonly number[]
}

/**
 * Builds test encoders whose embeddings are easy to predict, and records their calls. An
 * image's embedding is the mean of each channel of its normalised pixels, so a red entity on
 * the mean-colour fill points to (+, −, −). Every text row is `textDirection`.
 */
function makeEncoders(textDirection: readonly number[]) {
  const imageCalls: EncoderCall[] = []
  const textCalls: EncoderCall[] = []
  const encoders: ClipEncoders = {
    async encodeImages(pixels, count) {
      imageCalls.push({ count, values: [] })
      const embeddings = new Float32Array(count * 3)
      for (let i = 0; i < count * 3; i++) {
        const plane = pixels.subarray(i * PLANE, (i + 1) * PLANE)
        embeddings[i] = plane.reduce((sum, value) => sum + value, 0) / PLANE
      }
      return embeddings
    },
    async encodeTexts(ids, count) {
      textCalls.push({ count, values: Array.from(ids, Number) })
      return Float32Array.from({ length: count * 3 }, (_, i) => textDirection[i % 3] as number)
    },
  }
  return { encoders, imageCalls, textCalls }
}

/** Builds a grey image with filled rectangles, each given as [x0, y0, x1, y1, r, g, b]. */
function makeScene(width: number, height: number, rectangles: readonly number[][]): RgbImage {
  const data = new Uint8Array(width * height * 3).fill(128)
  for (const [x0, y0, x1, y1, ...colour] of rectangles as [
    number,
    number,
    number,
    number,
    ...number[],
  ][]) {
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) data.set(colour, (y * width + x) * 3)
    }
  }
  return { data, width, height }
}

function makeBoxProposal(box: readonly [number, number, number, number]): ProposalMask {
  const area = (box[2] - box[0]) * (box[3] - box[1])
  return { bbox: box, boxMask: new Uint8Array(area).fill(255) }
}

// Red at 0 and 2, blue at 1; the "red" direction is (1, −1, −1).
const SCENE = makeScene(120, 60, [
  [5, 5, 25, 25, 255, 0, 0],
  [40, 10, 70, 30, 0, 0, 255],
  [80, 20, 110, 50, 230, 20, 20],
])
const PROPOSALS = [
  makeBoxProposal([5, 5, 25, 25]),
  makeBoxProposal([40, 10, 70, 30]),
  makeBoxProposal([80, 20, 110, 50]),
]

describe('alignEntity', () => {
  it('selects the best matching proposal', async () => {
    const { encoders } = makeEncoders([1, -1, -1])
    const result = await alignEntity({
      image: SCENE,
      proposals: PROPOSALS,
      entity: 'red thing',
      encoders,
      tokenizer,
      thresholds: THRESHOLDS,
    })

    expect(result.selected.map((c) => c.index)).toEqual([0])
    expect(result.candidates.map((c) => c.index)).toEqual([0, 2, 1])
    expect(result.candidates[0]?.bbox).toEqual([5, 5, 25, 25])
    expect(result.candidates[0]?.area).toBe(400)
    expect(result.candidates[2]?.score).toBeLessThan(0)
  })

  it('selects every match with multiple', async () => {
    const { encoders } = makeEncoders([1, -1, -1])
    const result = await alignEntity({
      image: SCENE,
      proposals: PROPOSALS,
      entity: 'red thing',
      encoders,
      tokenizer,
      thresholds: THRESHOLDS,
      multiple: true,
    })

    expect(result.selected.map((c) => c.index)).toEqual([0, 2])
  })

  it('encodes images in batches', async () => {
    const { encoders, imageCalls } = makeEncoders([1, -1, -1])
    const result = await alignEntity({
      image: SCENE,
      proposals: PROPOSALS,
      entity: 'red thing',
      encoders,
      tokenizer,
      thresholds: THRESHOLDS,
      imageBatchSize: 2,
    })

    expect(imageCalls.map((call) => call.count)).toEqual([2, 1])
    expect(result.candidates.map((c) => c.index)).toEqual([0, 2, 1])
  })

  it('scores by cosine similarity', async () => {
    // A direction equal to proposal 0's embedding scores 1 there. That embedding is the channel
    // means of its canvas: the 20×20 red square fills (20 / 24)² of the 24×24 canvas and the
    // mean-colour fill the rest (the bicubic upscale to 224 keeps the means within rounding).
    const share = (20 / 24) ** 2
    const direction = [255, 0, 0].map((value, channel) => {
      const normalise = (byte: number) =>
        (byte / 255 - (CLIP_MEAN[channel] as number)) / (CLIP_STD[channel] as number)
      return normalise(value) * share + normalise(CLIP_MEAN_FILL[channel] as number) * (1 - share)
    })
    const { encoders } = makeEncoders(direction)

    const result = await alignEntity({
      image: SCENE,
      proposals: PROPOSALS,
      entity: 'red thing',
      encoders,
      tokenizer,
      thresholds: THRESHOLDS,
    })

    expect(result.candidates[0]?.score).toBeCloseTo(1, 3)
  })

  it('rejects an entity below not-found', async () => {
    const { encoders } = makeEncoders([0, 1, 0])
    const request = {
      image: SCENE,
      proposals: PROPOSALS,
      entity: 'green thing',
      encoders,
      tokenizer,
      thresholds: THRESHOLDS,
    }

    await expect(alignEntity(request)).rejects.toMatchObject({
      name: 'RunnerError',
      code: 'entity-not-found',
      details: { entity: 'green thing' },
    })
  })

  it('rejects an image without proposals', async () => {
    const { encoders, imageCalls, textCalls } = makeEncoders([1, -1, -1])
    const request = {
      image: SCENE,
      proposals: [],
      entity: 'dog',
      encoders,
      tokenizer,
      thresholds: THRESHOLDS,
    }

    await expect(alignEntity(request)).rejects.toMatchObject({ code: 'entity-not-found' })
    expect(imageCalls).toEqual([])
    expect(textCalls).toEqual([])
  })

  it('rejects embeddings of different sizes', async () => {
    const { encoders } = makeEncoders([1, -1, -1, 0])
    const wide: ClipEncoders = {
      encodeImages: encoders.encodeImages,
      encodeTexts: async (_ids, count) => new Float32Array(count * 4).fill(1),
    }
    const request = {
      image: SCENE,
      proposals: PROPOSALS,
      entity: 'dog',
      encoders: wide,
      tokenizer,
      thresholds: THRESHOLDS,
    }

    await expect(alignEntity(request)).rejects.toMatchObject({ code: 'model-contract' })
  })
})

describe('embedEntityText', () => {
  it('tokenizes every template in one batch', async () => {
    const { encoders, textCalls } = makeEncoders([1, 0, 0])
    await embedEntityText('the dog', { encoders, tokenizer, pad: 'eos' })

    const call = textCalls[0]
    expect(textCalls).toHaveLength(1)
    expect(call?.count).toBe(PROMPT_TEMPLATES.length)
    expect(call?.values.length).toBe(PROMPT_TEMPLATES.length * CLIP_MAX_TOKENS)
    const firstRow = tokenizer.encodeForModel('a photo of a dog.', { pad: 'eos' }).inputIds
    expect(call?.values.slice(0, CLIP_MAX_TOKENS)).toEqual([...firstRow])
  })

  it('averages normalised template embeddings', async () => {
    // Even rows (3, 4) normalise to (0.6, 0.8), odd rows (8, −6) to (0.8, −0.6); their mean
    // (0.7, 0.1) normalised is (0.98995, 0.14142). Averaging before normalising would give
    // (5.5, −1) → (0.98387, −0.17889) instead.
    const encoders: ClipEncoders = {
      encodeImages: async () => new Float32Array(0),
      encodeTexts: async (_ids, count) =>
        Float32Array.from({ length: count * 2 }, (_, i) => {
          const row = Math.floor(i / 2)
          const even = [3, 4]
          const odd = [8, -6]
          return (row % 2 === 0 ? even : odd)[i % 2] as number
        }),
    }

    const embedding = await embedEntityText('dog', { encoders, tokenizer, pad: 'zeros' })

    expect(embedding[0]).toBeCloseTo(0.98995, 5)
    expect(embedding[1]).toBeCloseTo(0.14142, 5)
  })

  it('rejects a zero embedding', async () => {
    const encoders: ClipEncoders = {
      encodeImages: async () => new Float32Array(0),
      encodeTexts: async (_ids, count) => new Float32Array(count * 4),
    }

    await expect(
      embedEntityText('dog', { encoders, tokenizer, pad: 'zeros' })
    ).rejects.toBeInstanceOf(RunnerError)
  })
})
