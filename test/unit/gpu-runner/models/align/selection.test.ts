import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../../gpu-runner/errors.ts'
import {
  selectMatches,
  type ScoredCandidate,
} from '../../../../../gpu-runner/models/align/selection.ts'

const THRESHOLDS = { match: 0.25, notFound: 0.2 }

function makeCandidate(index: number, score: number): ScoredCandidate {
  return { index, score, bbox: [index, index, index + 10, index + 10], area: 100 }
}

const CANDIDATES = [
  makeCandidate(0, 0.21),
  makeCandidate(1, 0.31),
  makeCandidate(2, 0.26),
  makeCandidate(3, 0.18),
]

function catchRunnerError(run: () => unknown): RunnerError {
  try {
    run()
  } catch (error) {
    if (error instanceof RunnerError) return error
    throw error
  }
  throw new Error('expected a RunnerError')
}

describe('selectMatches', () => {
  it('selects the best candidate', () => {
    const selected = selectMatches(CANDIDATES, {
      entity: 'dog',
      multiple: false,
      thresholds: THRESHOLDS,
    })

    expect(selected.map((c) => c.index)).toEqual([1])
  })

  it('selects all matches with multiple', () => {
    const selected = selectMatches(CANDIDATES, {
      entity: 'dog',
      multiple: true,
      thresholds: THRESHOLDS,
    })

    expect(selected.map((c) => c.index)).toEqual([1, 2])
  })

  it('keeps the best below the match threshold', () => {
    // 0.22 is above the not-found threshold but below the match threshold.
    const candidates = [makeCandidate(0, 0.22), makeCandidate(1, 0.21)]
    const selected = selectMatches(candidates, {
      entity: 'dog',
      multiple: true,
      thresholds: THRESHOLDS,
    })

    expect(selected.map((c) => c.index)).toEqual([0])
  })

  it('breaks ties by proposal order', () => {
    const candidates = [makeCandidate(4, 0.3), makeCandidate(2, 0.3)]
    const selected = selectMatches(candidates, {
      entity: 'dog',
      multiple: false,
      thresholds: THRESHOLDS,
    })

    expect(selected.map((c) => c.index)).toEqual([2])
  })

  it('rejects a best score below not-found', () => {
    const candidates = [
      makeCandidate(0, 0.12),
      makeCandidate(1, 0.19),
      makeCandidate(2, 0.05),
      makeCandidate(3, 0.1),
    ]
    const error = catchRunnerError(() =>
      selectMatches(candidates, { entity: 'unicorn', multiple: false, thresholds: THRESHOLDS })
    )

    expect(error.code).toBe('entity-not-found')
    expect(error.slug).toBe('entity-not-found')
    expect(error.message).toMatchInlineSnapshot(
      `"No region matches "unicorn": the best score is 0.190, below the threshold 0.200. Closest regions: #1 box [1, 1, 11, 11] score 0.190; #0 box [0, 0, 10, 10] score 0.120; #3 box [3, 3, 13, 13] score 0.100. Try another word for the entity, or pass a mask."`
    )
    expect(error.details).toEqual({
      entity: 'unicorn',
      threshold: 0.2,
      candidates: [candidates[1], candidates[0], candidates[3]],
    })
  })

  it('rejects an empty candidate list', () => {
    const error = catchRunnerError(() =>
      selectMatches([], { entity: 'dog', multiple: false, thresholds: THRESHOLDS })
    )

    expect(error.code).toBe('entity-not-found')
    expect(error.message).toContain('Segmentation found no regions')
    expect(error.details).toEqual({ entity: 'dog', candidates: [] })
  })
})
