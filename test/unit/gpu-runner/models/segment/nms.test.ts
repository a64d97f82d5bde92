import { describe, expect, it } from 'vitest'

import { computeBoxIou, selectByNms } from '../../../../../gpu-runner/models/segment/nms.ts'
import type { PixelBox } from '../../../../../gpu-runner/pipeline/types.ts'

describe('computeBoxIou', () => {
  it('is 1 for equal boxes', () => {
    expect(computeBoxIou([2, 3, 10, 7], [2, 3, 10, 7])).toBe(1)
  })

  it('is 0 for boxes that only touch', () => {
    expect(computeBoxIou([0, 0, 4, 4], [4, 0, 8, 4])).toBe(0)
  })

  it('divides intersection by union', () => {
    // Intersection 2x4 = 8, union 16 + 16 - 8 = 24.
    expect(computeBoxIou([0, 0, 4, 4], [2, 0, 6, 4])).toBeCloseTo(8 / 24, 12)
  })

  it('is 0 for an empty box', () => {
    expect(computeBoxIou([3, 3, 3, 9], [0, 0, 10, 10])).toBe(0)
  })
})

describe('selectByNms', () => {
  const boxes: PixelBox[] = [
    [0, 0, 10, 10],
    [1, 0, 11, 10], // IoU with box 0: 90 / 110 ≈ 0.82
    [5, 0, 15, 10], // IoU with box 0: 50 / 150 ≈ 0.33
    [30, 30, 40, 40],
  ]

  it('drops overlapping lower scores', () => {
    expect(selectByNms(boxes, [0.9, 0.95, 0.8, 0.5], 0.7)).toEqual([1, 2, 3])
  })

  it('keeps boxes at the threshold', () => {
    // Box 1 against box 0 is 0.818..., so a threshold of 0.82 keeps both.
    expect(selectByNms(boxes, [0.9, 0.95, 0.8, 0.5], 0.82)).toEqual([1, 0, 2, 3])
  })

  it('breaks ties by input order', () => {
    expect(selectByNms(boxes.slice(0, 2), [0.5, 0.5], 0.7)).toEqual([0])
  })

  it('rejects mismatched lengths', () => {
    expect(() => selectByNms(boxes, [1], 0.7)).toThrow(RangeError)
  })
})
