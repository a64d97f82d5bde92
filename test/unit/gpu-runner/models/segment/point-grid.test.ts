import { describe, expect, it } from 'vitest'

import {
  buildPointGrid,
  computeGridShape,
} from '../../../../../gpu-runner/models/segment/point-grid.ts'

describe('buildPointGrid', () => {
  it('matches the reference grid on a square image', () => {
    // build_point_grid(4) in segment-anything utils/amg.py, scaled by the image size 100x100.
    const normalised = [0.125, 0.375, 0.625, 0.875]
    const expected = normalised.flatMap((y) => normalised.map((x) => [x * 100, y * 100]))

    expect(buildPointGrid(100, 100, 4)).toEqual(expected)
  })

  it('spaces points equally on a strip', () => {
    const points = buildPointGrid(2048, 590, 8)
    const { columns, rows } = computeGridShape(2048, 590, 8)

    expect([columns, rows]).toEqual([15, 4])
    expect(points).toHaveLength(60)
    expect(points[0]).toEqual([2048 / 30, 590 / 8])
    expect(points[59]).toEqual([(14.5 / 15) * 2048, (3.5 / 4) * 590])
  })

  it('keeps one row on an extreme strip', () => {
    expect(computeGridShape(5000, 7, 4)).toEqual({ columns: 107, rows: 1 })
  })

  it('rejects a zero grid', () => {
    expect(() => buildPointGrid(10, 10, 0)).toThrow(RangeError)
  })
})
