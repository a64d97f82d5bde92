import { describe, expect, it } from 'vitest'

import {
  applyGuidance,
  buildUnetInput,
  selectTextEmbeddings,
  type NchwDims,
  type NchwTensor,
} from '../../../../../gpu-runner/models/inpaint/guidance.ts'

/** A tensor whose values are `base + index`, so every value shows where it came from. */
function makeTagged(dims: NchwDims, base: number): NchwTensor {
  const size = dims[0] * dims[1] * dims[2] * dims[3]
  return { data: Float32Array.from({ length: size }, (_, i) => base + i), dims }
}

describe('buildUnetInput', () => {
  it('concatenates latents, mask and masked image', () => {
    const latents = makeTagged([1, 4, 2, 2], 100)
    const maskLatent = makeTagged([1, 1, 2, 2], 200)
    const maskedImageLatents = makeTagged([1, 4, 2, 2], 300)

    const input = buildUnetInput({ latents, maskLatent, maskedImageLatents, copies: 1 })

    expect(input.dims).toEqual([1, 9, 2, 2])
    expect(Array.from(input.data.subarray(0, 16))).toEqual(Array.from(latents.data))
    expect(Array.from(input.data.subarray(16, 20))).toEqual(Array.from(maskLatent.data))
    expect(Array.from(input.data.subarray(20, 36))).toEqual(Array.from(maskedImageLatents.data))
  })

  it('repeats the whole batch for guidance', () => {
    const latents = makeTagged([2, 4, 1, 1], 100)
    const maskLatent = makeTagged([2, 1, 1, 1], 200)
    const maskedImageLatents = makeTagged([2, 4, 1, 1], 300)

    const input = buildUnetInput({ latents, maskLatent, maskedImageLatents, copies: 2 })

    // torch.cat([latents] * 2) order: items 0, 1, then 0, 1 again.
    const item0 = [100, 101, 102, 103, 200, 300, 301, 302, 303]
    const item1 = [104, 105, 106, 107, 201, 304, 305, 306, 307]
    expect(input.dims).toEqual([4, 9, 1, 1])
    expect(Array.from(input.data)).toEqual([...item0, ...item1, ...item0, ...item1])
  })

  it('rejects a mask of another size', () => {
    const latents = makeTagged([1, 4, 2, 2], 0)
    const maskLatent = makeTagged([1, 1, 2, 3], 0)

    expect(() =>
      buildUnetInput({ latents, maskLatent, maskedImageLatents: latents, copies: 2 })
    ).toThrow('maskLatent has dims [1, 1, 2, 3] and 6 values; expected [1, 1, 2, 2].')
  })
})

describe('applyGuidance', () => {
  it('extrapolates from unconditional to conditional', () => {
    const prediction = new Float32Array([0.1, -0.2, 0.3, 0.5])

    const guided = applyGuidance(prediction, 7.5)

    // ε_uncond = [0.1, −0.2] comes first, ε_cond = [0.3, 0.5] second.
    const expected = [0.1 + 7.5 * (0.3 - 0.1), -0.2 + 7.5 * (0.5 + 0.2)]
    expect(Array.from(guided)).toEqual(expected.map(Math.fround))
  })

  it('returns the conditional half at scale 1', () => {
    const guided = applyGuidance(new Float32Array([0.1, -0.2, 0.3, 0.5]), 1)

    expect(Array.from(guided)).toEqual([0.3, 0.5].map(Math.fround))
  })
})

describe('selectTextEmbeddings', () => {
  const textEmbeds = {
    data: Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i),
    dims: [2, 3, 2] as const,
  }

  it('keeps both halves with guidance', () => {
    expect(selectTextEmbeddings(textEmbeds, 7.5)).toBe(textEmbeds)
  })

  it('keeps the conditional half without guidance', () => {
    const selected = selectTextEmbeddings(textEmbeds, 1)

    expect(selected.dims).toEqual([1, 3, 2])
    expect(Array.from(selected.data)).toEqual([6, 7, 8, 9, 10, 11])
  })

  it('rejects an odd batch', () => {
    const odd = { data: new Float32Array(6), dims: [1, 3, 2] as const }

    expect(() => selectTextEmbeddings(odd, 7.5)).toThrow(RangeError)
  })
})
