import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../../gpu-runner/errors.ts'
import {
  denoise,
  type DenoiseOptions,
  type DenoiseProgress,
  type InpaintUnet,
} from '../../../../../gpu-runner/models/inpaint/denoise.ts'
import type { NchwDims, TextEmbeddings } from '../../../../../gpu-runner/models/inpaint/guidance.ts'
import { SD_SCHEDULER_CONFIG } from '../../../../../gpu-runner/models/inpaint/schedule.ts'
import { createNoiseGenerator } from '../../../../../gpu-runner/tensor/random.ts'
import { expectClose, referenceAlphaCumprod } from './expect-close.ts'

const LATENT_DIMS: NchwDims = [1, 4, 2, 2]
const LATENT_SIZE = 16
const TOKENS = 3
const HIDDEN = 2
/** Marks in the text embeddings: the UNet fakes below tell the two halves apart by them. */
const UNCOND_MARK = -1
const COND_MARK = 1

const CLEAN = Float32Array.from({ length: LATENT_SIZE }, (_, i) => Math.sin(i + 1))

/** One UNet call as the fakes record it. */
interface UnetCall {
  readonly sample: Float32Array
  readonly dims: NchwDims
  readonly timestep: number
  readonly embeds: TextEmbeddings
}

function makeTextEmbeds(): TextEmbeddings {
  const half = TOKENS * HIDDEN
  const data = new Float32Array(2 * half)
  data.fill(UNCOND_MARK, 0, half)
  data.fill(COND_MARK, half)
  return { data, dims: [2, TOKENS, HIDDEN] }
}

function makeDenoiseOptions(overrides: Partial<DenoiseOptions> = {}): DenoiseOptions {
  return {
    unet: async (_sample, dims) => new Float32Array(dims[0] * LATENT_SIZE),
    scheduler: 'ddim',
    config: SD_SCHEDULER_CONFIG,
    steps: 10,
    guidanceScale: 7.5,
    textEmbeds: makeTextEmbeds(),
    maskLatent: { data: new Float32Array(4).fill(1), dims: [1, 1, 2, 2] },
    maskedImageLatents: {
      data: Float32Array.from({ length: LATENT_SIZE }, (_, i) => 0.01 * i),
      dims: LATENT_DIMS,
    },
    seed: 42,
    ...overrides,
  }
}

/**
 * A UNet fake that records each call and returns, per batch item, a constant chosen by the
 * item's text embedding: `uncond` for unconditional items, `cond` for conditional ones.
 */
function makeRecordingUnet(uncond: number, cond: number): { unet: InpaintUnet; calls: UnetCall[] } {
  const calls: UnetCall[] = []
  const unet: InpaintUnet = async (sample, dims, timestep, embeds) => {
    calls.push({ sample: sample.slice(), dims, timestep, embeds })
    const output = new Float32Array(dims[0] * LATENT_SIZE)
    for (let item = 0; item < dims[0]; item++) {
      const mark = embeds.data[item * TOKENS * HIDDEN]
      output.fill(mark === COND_MARK ? cond : uncond, item * LATENT_SIZE, (item + 1) * LATENT_SIZE)
    }
    return output
  }
  return { unet, calls }
}

/**
 * A UNet fake that returns the noise ε̂ with x_t = sqrt(ᾱ_t) CLEAN + sqrt(1 − ᾱ_t) ε̂ for every
 * batch item, so a sampler that follows it lands on CLEAN.
 */
const trueNoiseUnet: InpaintUnet = async (sample, dims, timestep) => {
  const alpha = referenceAlphaCumprod(timestep)
  const itemSize = 9 * 4
  const output = new Float32Array(dims[0] * LATENT_SIZE)
  for (let item = 0; item < dims[0]; item++) {
    for (let i = 0; i < LATENT_SIZE; i++) {
      const x = sample[item * itemSize + i]!
      output[item * LATENT_SIZE + i] = (x - Math.sqrt(alpha) * CLEAN[i]!) / Math.sqrt(1 - alpha)
    }
  }
  return output
}

/** The latent channels of batch item 0 of a recorded UNet input. */
function firstLatents(call: UnetCall): Float32Array {
  return call.sample.subarray(0, LATENT_SIZE)
}

describe('denoise', () => {
  it('batches unconditional then conditional', async () => {
    const { unet, calls } = makeRecordingUnet(0, 0)
    const options = makeDenoiseOptions({ unet })

    await denoise(options)

    expect(calls).toHaveLength(10)
    expect(calls.map((call) => call.timestep)).toEqual([
      901, 801, 701, 601, 501, 401, 301, 201, 101, 1,
    ])
    const [first] = calls
    expect(first!.dims).toEqual([2, 9, 2, 2])
    expect(first!.embeds).toBe(options.textEmbeds)
    // Both items carry the same latents, mask and masked-image latents.
    const itemSize = 9 * 4
    expect(first!.sample.subarray(itemSize)).toEqual(first!.sample.subarray(0, itemSize))
    expect(Array.from(first!.sample.subarray(16, 20))).toEqual([1, 1, 1, 1])
    expect(first!.sample.subarray(20, 36)).toEqual(options.maskedImageLatents.data)
  })

  it('applies the guidance formula', async () => {
    const { unet } = makeRecordingUnet(0.1, 0.3)
    const initialNoise = createNoiseGenerator(42).sampleNormal(LATENT_SIZE)

    const result = await denoise(makeDenoiseOptions({ unet, steps: 1, guidanceScale: 7.5 }))

    // One DDIM step from timestep 1 to the final ᾱ_0 with ε = 0.1 + 7.5 × (0.3 − 0.1) = 1.6.
    const epsilon = 0.1 + 7.5 * (0.3 - 0.1)
    const alphaT = referenceAlphaCumprod(1)
    const alphaPrev = referenceAlphaCumprod(0)
    const expected = Array.from(initialNoise, (x) => {
      const x0 = (x - Math.sqrt(1 - alphaT) * epsilon) / Math.sqrt(alphaT)
      return Math.sqrt(alphaPrev) * x0 + Math.sqrt(1 - alphaPrev) * epsilon
    })
    expect(result.dims).toEqual(LATENT_DIMS)
    expectClose(result.data, expected, { rtol: 1e-5, atol: 1e-6 })
  })

  it('skips guidance at scale 1', async () => {
    const { unet, calls } = makeRecordingUnet(0.1, 0.3)

    await denoise(makeDenoiseOptions({ unet, steps: 2, guidanceScale: 1 }))

    expect(calls[0]!.dims).toEqual([1, 9, 2, 2])
    expect(calls[0]!.embeds.dims).toEqual([1, TOKENS, HIDDEN])
    expect(Array.from(calls[0]!.embeds.data)).toEqual(new Array(TOKENS * HIDDEN).fill(COND_MARK))
  })

  it('starts from pure noise at strength 1', async () => {
    const { unet, calls } = makeRecordingUnet(0, 0)
    const initLatents = { data: CLEAN, dims: LATENT_DIMS }

    await denoise(makeDenoiseOptions({ unet, initLatents, strength: 1 }))

    expect(firstLatents(calls[0]!)).toEqual(createNoiseGenerator(42).sampleNormal(LATENT_SIZE))
  })

  it('starts keep-shape runs part-way', async () => {
    const { unet, calls } = makeRecordingUnet(0, 0)
    const progress: DenoiseProgress[] = []
    const initLatents = { data: CLEAN, dims: LATENT_DIMS }

    await denoise(
      makeDenoiseOptions({
        unet,
        steps: 50,
        strength: 0.75,
        initLatents,
        onStep: (p) => progress.push(p),
      })
    )

    // floor(50 × 0.75) = 37 steps from index 13 of 981, 961, …, 1: timestep 721.
    expect(calls).toHaveLength(37)
    expect(calls[0]!.timestep).toBe(721)
    expect(calls.at(-1)!.timestep).toBe(1)
    expect(progress.at(-1)).toEqual({ step: 37, total: 37, timestep: 1 })
    const noise = createNoiseGenerator(42).sampleNormal(LATENT_SIZE)
    const alpha = referenceAlphaCumprod(721)
    const expected = Array.from(
      CLEAN,
      (x, i) => Math.sqrt(alpha) * x + Math.sqrt(1 - alpha) * noise[i]!
    )
    expectClose(firstLatents(calls[0]!), expected, { rtol: 1e-6, atol: 1e-7 })
  })

  it('recovers x0 with DPM-Solver++', async () => {
    const result = await denoise(
      makeDenoiseOptions({ unet: trueNoiseUnet, scheduler: 'dpm-solver++', steps: 20 })
    )

    expectClose(result.data, CLEAN, { atol: 2e-5 })
  })

  it('ends at timestep 0 noise with DDIM', async () => {
    const noise = createNoiseGenerator(42).sampleNormal(LATENT_SIZE)

    const result = await denoise(makeDenoiseOptions({ unet: trueNoiseUnet, steps: 50 }))

    // ε̂ is fixed by the first sample: x_981 = noise. DDIM keeps it and stops at ᾱ_0.
    const alphaStart = referenceAlphaCumprod(981)
    const alphaEnd = referenceAlphaCumprod(0)
    const expected = Array.from(CLEAN, (x0, i) => {
      const epsilon = (noise[i]! - Math.sqrt(alphaStart) * x0) / Math.sqrt(1 - alphaStart)
      return Math.sqrt(alphaEnd) * x0 + Math.sqrt(1 - alphaEnd) * epsilon
    })
    expectClose(result.data, expected, { atol: 2e-5 })
  })

  it('cancels between steps', async () => {
    const { unet, calls } = makeRecordingUnet(0, 0)
    const controller = new AbortController()
    const onStep = (p: DenoiseProgress) => {
      if (p.step === 3) controller.abort()
    }

    const run = denoise(makeDenoiseOptions({ unet, signal: controller.signal, onStep }))

    await expect(run).rejects.toBeInstanceOf(RunnerError)
    await expect(run).rejects.toMatchObject({
      code: 'canceled',
      message: 'Denoising was canceled after 3 of 10 steps.',
      details: { completedSteps: 3, totalSteps: 10 },
    })
    expect(calls).toHaveLength(3)
  })

  it('repeats results for a seed', async () => {
    const unet: InpaintUnet = async (sample, dims) =>
      Float32Array.from({ length: dims[0] * LATENT_SIZE }, (_, i) => 0.5 * Math.tanh(sample[i]!))
    const options = makeDenoiseOptions({ unet, scheduler: 'dpm-solver++' })

    const first = await denoise(options)
    const second = await denoise(options)
    const other = await denoise({ ...options, seed: 43 })

    expect(second.data).toEqual(first.data)
    expect(other.data).not.toEqual(first.data)
  })

  it('draws DDIM variance noise from the seed', async () => {
    const unet: InpaintUnet = async (_sample, dims) => new Float32Array(dims[0] * LATENT_SIZE)
    const options = makeDenoiseOptions({ unet, eta: 1 })

    const first = await denoise(options)
    const second = await denoise(options)
    const deterministic = await denoise({ ...options, eta: 0 })

    expect(second.data).toEqual(first.data)
    expect(deterministic.data).not.toEqual(first.data)
  })

  it('rejects strength that runs no step', async () => {
    const initLatents = { data: CLEAN, dims: LATENT_DIMS }

    const run = denoise(makeDenoiseOptions({ steps: 2, strength: 0.3, initLatents }))

    await expect(run).rejects.toMatchObject({ code: 'invalid-input', slug: 'invalid-request' })
  })

  it('rejects a wrong UNet output size', async () => {
    const unet: InpaintUnet = async () => new Float32Array(LATENT_SIZE)

    const run = denoise(makeDenoiseOptions({ unet }))

    await expect(run).rejects.toMatchObject({
      code: 'model-contract',
      message: 'The inpainting UNet returned 16 values; expected 32 ([2, 4, 2, 2]).',
    })
  })

  it('rejects keep-shape without init latents', async () => {
    await expect(denoise(makeDenoiseOptions({ strength: 0.5 }))).rejects.toThrow(TypeError)
  })
})
