import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import type { RgbImage } from '../../../../../gpu-runner/image/types.ts'
import { alignEntity } from '../../../../../gpu-runner/models/align/align.ts'
import {
  createClipEncoders,
  type ClipEncoders,
} from '../../../../../gpu-runner/models/align/clip-encoders.ts'
import type { ProposalMask } from '../../../../../gpu-runner/models/align/masked-canvas.ts'
import { createModelSession, type ModelSession } from '../../../../../gpu-runner/onnx/sessions.ts'
import { CLIP_IMAGE_SIZE } from '../../../../../gpu-runner/tensor/clip-preprocess.ts'
import {
  CLIP_MAX_TOKENS,
  loadClipTokenizer,
} from '../../../../../gpu-runner/text/clip-tokenizer.ts'
import {
  TINY_CLIP_EMBEDDING_DIM,
  buildClipImageTiny,
  buildClipTextTiny,
} from '../../../../../scripts/tiny-models/clip.ts'

// The tiny CLIP models have the real exports' tensor names and dtypes but 32-dimensional
// embeddings and arbitrary weights, so these tests check plumbing and invariants, not meaning.
const tokenizer = loadClipTokenizer()
const PIXELS_PER_IMAGE = 3 * CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE

let sessions: ModelSession[] = []
let encoders: ClipEncoders

beforeAll(async () => {
  const image = await createModelSession({
    id: 'clip-image-tiny',
    model: buildClipImageTiny(),
    role: 'clip-image',
    provider: 'cpu',
  })
  const text = await createModelSession({
    id: 'clip-text-tiny',
    model: buildClipTextTiny(),
    role: 'clip-text',
    provider: 'cpu',
  })
  sessions = [image, text]
  encoders = createClipEncoders({ image, text })
})

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.release()))
})

function encodeTexts(texts: readonly string[]): Promise<Float32Array> {
  const ids = new Int32Array(texts.length * CLIP_MAX_TOKENS)
  texts.forEach((text, row) =>
    ids.set(tokenizer.encodeForModel(text).inputIds, row * CLIP_MAX_TOKENS)
  )
  return encoders.encodeTexts(ids, texts.length)
}

describe('createClipEncoders', () => {
  it('returns one image embedding per input', async () => {
    const pixels = Float32Array.from({ length: 2 * PIXELS_PER_IMAGE }, (_, i) => Math.sin(i / 997))
    const embeddings = await encoders.encodeImages(pixels, 2)

    expect(embeddings.length).toBe(2 * TINY_CLIP_EMBEDDING_DIM)
    expect(embeddings.every(Number.isFinite)).toBe(true)
  })

  it('returns one text embedding per input', async () => {
    const embeddings = await encodeTexts([
      'a photo of a dog.',
      'a photo of a cat.',
      'a photo of a dog.',
    ])
    const rows = [0, 1, 2].map((row) =>
      embeddings.subarray(row * TINY_CLIP_EMBEDDING_DIM, (row + 1) * TINY_CLIP_EMBEDDING_DIM)
    )

    expect(embeddings.length).toBe(3 * TINY_CLIP_EMBEDDING_DIM)
    expect(rows[2]).toEqual(rows[0])
    expect(rows[1]).not.toEqual(rows[0])
  })

  it('accepts int64 token ids', async () => {
    const ids = tokenizer.encodeForModel('a photo of a dog.').inputIds
    const fromInt32 = await encoders.encodeTexts(ids, 1)
    const fromInt64 = await encoders.encodeTexts(BigInt64Array.from(ids, BigInt), 1)

    expect(fromInt64).toEqual(fromInt32)
  })

  it('rejects a batch count that does not fit', async () => {
    const pixels = new Float32Array(PIXELS_PER_IMAGE)

    await expect(encoders.encodeImages(pixels, 2)).rejects.toBeInstanceOf(RangeError)
  })
})

describe('alignEntity on tiny CLIP models', () => {
  /** Builds a grey image with filled rectangles, each given as [x0, y0, x1, y1, r, g, b]. */
  function makeScene(width: number, height: number, rectangles: readonly number[][]): RgbImage {
    const data = new Uint8Array(width * height * 3).fill(90)
    for (const [x0 = 0, y0 = 0, x1 = 0, y1 = 0, ...colour] of rectangles) {
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

  it('scores equal entities equally', async () => {
    // Two identical red squares at different places and one blue bar: a correct canvas
    // depends only on the masked pixels, so both squares must get the same score.
    const image = makeScene(300, 200, [
      [10, 10, 60, 60, 200, 30, 30],
      [200, 120, 250, 170, 200, 30, 30],
      [100, 50, 180, 80, 20, 40, 220],
    ])
    const proposals = [
      makeBoxProposal([10, 10, 60, 60]),
      makeBoxProposal([100, 50, 180, 80]),
      makeBoxProposal([200, 120, 250, 170]),
    ]

    const result = await alignEntity({
      image,
      proposals,
      entity: 'red square',
      encoders,
      tokenizer,
      thresholds: { match: 1, notFound: -1 },
      imageBatchSize: 2,
    })
    const scoreOf = (index: number) =>
      result.candidates.find((candidate) => candidate.index === index)?.score ?? Number.NaN

    expect(result.candidates).toHaveLength(3)
    expect(result.selected).toHaveLength(1)
    expect(scoreOf(0)).toBeCloseTo(scoreOf(2), 6)
    expect(Math.abs(scoreOf(0) - scoreOf(1))).toBeGreaterThan(1e-4)
    expect(result.candidates.every((c) => c.score >= -1 && c.score <= 1)).toBe(true)
  })
})
