import { describe, expect, it } from 'vitest'

import {
  labelComponents,
  removeSmallRegions,
} from '../../../../../gpu-runner/models/segment/small-regions.ts'

/** Parses rows of '#' (inside) and '.' (outside) into a mask. */
function parseMask(rows: string[]): { data: Uint8Array; width: number; height: number } {
  const width = rows[0]?.length ?? 0
  const data = Uint8Array.from(rows.join('').split(''), (ch) => (ch === '#' ? 1 : 0))
  return { data, width, height: rows.length }
}

function formatMask(data: Uint8Array, width: number): string[] {
  const rows: string[] = []
  for (let y = 0; y < data.length / width; y++) {
    rows.push(
      Array.from(data.subarray(y * width, (y + 1) * width), (v) => (v ? '#' : '.')).join('')
    )
  }
  return rows
}

describe('labelComponents', () => {
  it('joins diagonal neighbours', () => {
    const mask = parseMask(['#...', '.#..', '...#', '...#'])

    const { sizes } = labelComponents(mask, 1)

    expect(sizes).toEqual([2, 2])
  })
})

describe('removeSmallRegions', () => {
  // Hand-derived cases for the semantics of remove_small_regions in segment-anything
  // utils/amg.py: 8-connected components, strictly smaller than the area are edited.
  const ring = parseMask([
    '.......',
    '.#####.',
    '.#...#.',
    '.#.#.#.',
    '.#...#.',
    '.#####.',
    '.......',
  ])

  it('fills a small hole', () => {
    const result = removeSmallRegions(ring, 9, 'holes')

    expect(result.changed).toBe(true)
    // The hole (8 outside pixels) is filled; the island in it is already inside.
    expect(formatMask(result.data, 7)).toEqual([
      '.......',
      '.#####.',
      '.#####.',
      '.#####.',
      '.#####.',
      '.#####.',
      '.......',
    ])
  })

  it('keeps a hole of the area', () => {
    const result = removeSmallRegions(ring, 8, 'holes')

    expect(result.changed).toBe(false)
    expect(result.data).toBe(ring.data)
  })

  it('clears a small island', () => {
    const result = removeSmallRegions(ring, 2, 'islands')

    expect(result.changed).toBe(true)
    expect(formatMask(result.data, 7)[3]).toBe('.#...#.')
    expect(formatMask(result.data, 7)[1]).toBe('.#####.')
  })

  it('keeps the largest island when all are small', () => {
    const mask = parseMask(['##..#', '##...', '.....'])

    const result = removeSmallRegions(mask, 100, 'islands')

    expect(formatMask(result.data, 5)).toEqual(['##...', '##...', '.....'])
  })

  it('fills small background cut off at the border', () => {
    // The column of '#' splits the outside; the left part (3 pixels) counts as a hole.
    const mask = parseMask(['.#....', '.#....', '.#....'])

    const result = removeSmallRegions(mask, 4, 'holes')

    expect(formatMask(result.data, 6)).toEqual(['##....', '##....', '##....'])
  })
})
