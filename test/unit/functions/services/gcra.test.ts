import { describe, expect, it } from 'vitest'

import {
  applyGcra,
  formatRateLimit,
  formatRateLimitPolicy,
  type RatePolicy,
} from '../../../../functions/services/gcra.ts'

const PER_MINUTE: RatePolicy = { name: 'requests', quota: 3, windowS: 60 }

// Runs `count` requests of cost 1 at the same instant and returns each step.
function burst(count: number, nowMs = 0) {
  let storedTatMs: number | undefined
  return Array.from({ length: count }, () => {
    const step = applyGcra({ policy: PER_MINUTE, storedTatMs, nowMs, cost: 1 })
    if (step.allowed) storedTatMs = step.tatMs
    return step
  })
}

describe('applyGcra', () => {
  it('allows a burst of the quota', () => {
    expect(burst(3).map((step) => step.allowed)).toEqual([true, true, true])
  })

  it('counts down the remaining units', () => {
    expect(burst(3).map((step) => step.remaining)).toEqual([2, 1, 0])
  })

  it('rejects the request after the quota', () => {
    expect(burst(4)[3]?.allowed).toBe(false)
  })

  it('gives the wait for one unit', () => {
    // Three units per 60 s refill one unit every 20 s.
    expect(burst(4)[3]?.retryAfterS).toBe(20)
  })

  it('refills one unit per interval', () => {
    const [, , third] = burst(3)

    const later = applyGcra({
      policy: PER_MINUTE,
      storedTatMs: third?.tatMs,
      nowMs: 20_000,
      cost: 1,
    })
    expect(later.allowed).toBe(true)
    expect(later.remaining).toBe(0)
  })

  it('leaves the state alone on rejection', () => {
    const [, , third, fourth] = burst(4)

    expect(fourth?.tatMs).toBe(third?.tatMs)
  })

  it('charges nothing at cost zero', () => {
    const step = applyGcra({ policy: PER_MINUTE, storedTatMs: undefined, nowMs: 0, cost: 0 })

    expect(step).toEqual({ allowed: true, tatMs: 0, remaining: 3, resetS: 0, retryAfterS: 0 })
  })
})

describe('RateLimit headers', () => {
  it('formats the policy list', () => {
    const policies = [PER_MINUTE, { name: 'edits', quota: 100, windowS: 86400 }]

    expect(formatRateLimitPolicy(policies)).toBe('"requests";q=3;w=60, "edits";q=100;w=86400')
  })

  it('formats the remaining units', () => {
    expect(formatRateLimit([{ policy: PER_MINUTE, remaining: 2, resetS: 20 }])).toBe(
      '"requests";r=2;t=20'
    )
  })
})
