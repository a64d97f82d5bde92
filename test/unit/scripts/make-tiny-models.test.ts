import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { loadManifest } from '../../../gpu-runner/models/manifest.ts'
import { localFilePath } from '../../../gpu-runner/models/registry.ts'
import {
  createModelSession,
  makeTensor,
  readOutput,
  type ModelSession,
} from '../../../gpu-runner/onnx/sessions.ts'
import { TINY_MODEL_BUILDERS, writeTinyModels } from '../../../scripts/make-tiny-models.ts'
import { TINY_SCHEDULER } from '../../../scripts/tiny-models/sd.ts'

const manifest = loadManifest()
const START_TOKEN = 49406
const END_TOKEN = 49407

function tinySession(id: string): Promise<ModelSession> {
  const model = manifest.models.find((entry) => entry.id === id)
  if (model === undefined) throw new Error(`No model ${id} in the manifest`)
  const path = localFilePath(model, model.files[0]!, '/unused')
  return createModelSession({ id, model: path, role: model.role, provider: 'cpu' })
}

/** Token ids of one prompt: start, words, end, then `pad` up to 77. */
function tokenIds(words: readonly number[], pad = 0): number[] {
  const ids = new Array<number>(77).fill(pad)
  ids[0] = START_TOKEN
  words.forEach((word, i) => (ids[i + 1] = word))
  ids[words.length + 1] = END_TOKEN
  return ids
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - (b[i] as number))), 0)
}

describe('make-tiny-models', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'semani-tiny-'))
  afterAll(() => rmSync(outDir, { recursive: true, force: true }))

  it('regenerates the manifest digests', () => {
    const byName = (a: { fileName: string }, b: { fileName: string }): number =>
      a.fileName.localeCompare(b.fileName)
    const written = writeTinyModels(outDir)
      .map(({ fileName, sha256, sizeBytes }) => ({ fileName, sha256, sizeBytes }))
      .sort(byName)
    const pinned = manifest.models
      .flatMap((model) => model.files)
      .filter((file) => file.from === 'repo' && file.path.startsWith('infra/models/tiny/'))
      .map((file) => ({
        fileName: file.path.slice('infra/models/tiny/'.length),
        sha256: file.sha256,
        sizeBytes: file.sizeBytes,
      }))
      .sort(byName)

    expect(written).toEqual(pinned)
  })

  it('keeps the committed models small', () => {
    const total = Object.values(TINY_MODEL_BUILDERS).reduce((sum, build) => sum + build().length, 0)

    expect(total).toBeLessThan(200_000)
  })

  it('matches the manifest scheduler', () => {
    const unet = manifest.models.find((model) => model.id === 'sd-unet-inpaint-tiny')

    expect(unet?.role).toBe('sd-unet-inpaint')
    expect(unet?.config).toMatchObject({ scheduler: TINY_SCHEDULER })
  })
})

describe('clip-image-tiny', () => {
  it('embeds images by colour and layout', async () => {
    const session = await tinySession('clip-image-tiny')
    const plane = 224 * 224
    const pixels = new Float32Array(2 * 3 * plane)
    pixels.fill(1, 0, plane) // image 0: red channel at 1, others 0
    pixels.fill(1, 3 * plane + 2 * plane, 4 * plane - plane / 2) // image 1: top of blue channel

    const outputs = await session.run({
      pixel_values: makeTensor(session, 'pixel_values', pixels, [2, 3, 224, 224]),
    })
    const embeds = readOutput(outputs, 'image_embeds')
    await session.release()

    expect(outputs.image_embeds?.dims).toEqual([2, 32])
    expect(maxAbsDifference(embeds.subarray(0, 32), embeds.subarray(32, 64))).toBeGreaterThan(0.1)
  })
})

describe('clip-text-tiny', () => {
  let session: ModelSession
  beforeAll(async () => (session = await tinySession('clip-text-tiny')))
  afterAll(() => session.release())

  async function embed(rows: readonly number[][]): Promise<Float32Array> {
    const ids = rows.flat()
    const outputs = await session.run({
      input_ids: makeTensor(session, 'input_ids', ids, [rows.length, 77]),
    })
    expect(outputs.text_embeds?.dims).toEqual([rows.length, 32])
    return readOutput(outputs, 'text_embeds')
  }

  it('gives different words different embeddings', async () => {
    // Ids of "dog" and "cat" in the CLIP vocabulary ("dog</w>" 1929, "cat</w>" 2368).
    const embeds = await embed([tokenIds([1929]), tokenIds([2368])])

    expect(maxAbsDifference(embeds.subarray(0, 32), embeds.subarray(32))).toBeGreaterThan(0.05)
  })

  it('ignores tokens after the end token', async () => {
    const zeros = await embed([tokenIds([1929, 320], 0)])
    const endPadding = await embed([tokenIds([1929, 320], END_TOKEN)])

    expect(maxAbsDifference(zeros, endPadding)).toBeLessThan(1e-6)
  })
})

describe('sd-text-encoder-tiny', () => {
  it('keeps earlier states when later tokens change', async () => {
    const session = await tinySession('sd-text-encoder-tiny')
    const first = tokenIds([1929, 2368, 320])
    const second = tokenIds([1929, 2368, 4558])
    const outputs = await session.run({
      input_ids: makeTensor(session, 'input_ids', [...first, ...second], [2, 77]),
    })
    const states = readOutput(outputs, 'last_hidden_state')
    await session.release()

    const row = 77 * 32
    // Positions 0–2 see the same tokens, and position 3 is the differing word.
    expect(outputs.last_hidden_state?.dims).toEqual([2, 77, 32])
    expect(maxAbsDifference(states.subarray(0, 3 * 32), states.subarray(row, row + 3 * 32))).toBe(0)
    expect(
      maxAbsDifference(states.subarray(3 * 32, 4 * 32), states.subarray(row + 3 * 32, row + 4 * 32))
    ).toBeGreaterThan(0.01)
  })
})

describe('sd-vae-tiny', () => {
  let encoder: ModelSession
  let decoder: ModelSession
  beforeAll(async () => {
    encoder = await tinySession('sd-vae-encoder-tiny')
    decoder = await tinySession('sd-vae-decoder-tiny')
  })
  afterAll(async () => Promise.all([encoder.release(), decoder.release()]))

  async function roundTrip(pixels: Float32Array, height: number, width: number) {
    const encoded = await encoder.run({
      sample: makeTensor(encoder, 'sample', pixels, [1, 3, height, width]),
    })
    const decoded = await decoder.run({ latent_sample: encoded.latent_sample! })
    return { latents: encoded.latent_sample!, image: decoded.sample! }
  }

  it('returns a flat colour unchanged', async () => {
    const colour = [0.6, -0.2, -0.9]
    const pixels = Float32Array.from(
      { length: 3 * 16 * 32 },
      (_, i) => colour[Math.floor(i / 512)]!
    )
    const { latents, image } = await roundTrip(pixels, 16, 32)

    expect(latents.dims).toEqual([1, 4, 2, 4])
    expect(image.dims).toEqual([1, 3, 16, 32])
    expect(maxAbsDifference(image.data as Float32Array, pixels)).toBeLessThan(1e-5)
  })

  it('keeps decoded images in range', async () => {
    const pixels = Float32Array.from({ length: 3 * 24 * 24 }, (_, i) => Math.sin(i * 12.9898))
    const { image } = await roundTrip(pixels, 24, 24)
    const values = Array.from(image.data as Float32Array)

    expect(Math.max(...values)).toBeLessThanOrEqual(1 + 1e-6)
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1 - 1e-6)
  })
})

describe('sd-unet-inpaint-tiny', () => {
  let unet: ModelSession
  beforeAll(async () => (unet = await tinySession('sd-unet-inpaint-tiny')))
  afterAll(() => unet.release())

  // ᾱ_t of the scaled_linear schedule, computed here in float64 from its definition:
  // β_s = (√β_start + s · (√β_end − √β_start) / 999)², ᾱ_t = ∏_{s ≤ t} (1 − β_s).
  function alphaCumprod(t: number): number {
    const from = Math.sqrt(TINY_SCHEDULER.betaStart)
    const to = Math.sqrt(TINY_SCHEDULER.betaEnd)
    let product = 1
    for (let s = 0; s <= t; s++) product *= 1 - (from + (s * (to - from)) / 999) ** 2
    return product
  }

  /** Sample [1,9,2,2]: latents, mask, masked-image latents from simple formulas. */
  function sampleOf(maskValue: number): Float32Array {
    const cells = 4
    return Float32Array.from({ length: 9 * cells }, (_, i) => {
      const channel = Math.floor(i / cells)
      if (channel === 4) return maskValue
      return Math.cos(i * 0.7) * (channel < 4 ? 1 : 0.5)
    })
  }

  async function predict(sample: Float32Array, timestep: number, text: Float32Array) {
    const outputs = await unet.run({
      sample: makeTensor(unet, 'sample', sample, [1, 9, 2, 2]),
      timestep: makeTensor(unet, 'timestep', [timestep], [1]),
      encoder_hidden_states: makeTensor(unet, 'encoder_hidden_states', text, [1, 77, 32]),
    })
    expect(outputs.out_sample?.dims).toEqual([1, 4, 2, 2])
    return readOutput(outputs, 'out_sample')
  }

  const textA = Float32Array.from({ length: 77 * 32 }, (_, i) => Math.sin(i * 0.31))
  const textB = Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i * 0.17))

  it('predicts the noise toward unmasked latents', async () => {
    const sample = sampleOf(0)
    const t = 501
    const alpha = alphaCumprod(t)
    const expected = Float32Array.from({ length: 16 }, (_, i) => {
      const noisy = sample[i] as number
      const clean = sample[5 * 4 + i] as number
      return (noisy - Math.sqrt(alpha) * clean) / Math.sqrt(1 - alpha)
    })

    expect(maxAbsDifference(await predict(sample, t, textA), expected)).toBeLessThan(1e-5)
  })

  it('ignores text outside the mask', async () => {
    const sample = sampleOf(0)

    expect(
      maxAbsDifference(await predict(sample, 301, textA), await predict(sample, 301, textB))
    ).toBe(0)
  })

  it('follows text inside the mask', async () => {
    const sample = sampleOf(1)

    expect(
      maxAbsDifference(await predict(sample, 301, textA), await predict(sample, 301, textB))
    ).toBeGreaterThan(0.01)
  })

  it('depends on the timestep', async () => {
    const sample = sampleOf(1)

    expect(
      maxAbsDifference(await predict(sample, 1, textA), await predict(sample, 981, textA))
    ).toBeGreaterThan(0.01)
  })

  it('stays within its bound', async () => {
    const sample = sampleOf(1).map((value) => value * 50)
    const values = Array.from(await predict(sample, 1, textA))

    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(8)
  })
})
