/**
 * Per-key rate limits and quotas in a Durable Object, one instance per API key.
 *
 * Each policy is a GCRA bucket (see gcra.ts) whose theoretical arrival time (TAT) is kept in
 * the object's storage. The runtime's input gate holds other events back while storage calls
 * are in flight, so the read-modify-write of TAT needs no lock.
 */
import { DurableObject } from 'cloudflare:workers'

import { applyGcra, type PolicyState, type RatePolicy } from './gcra.ts'

/** The outcome of a request against all its policies. */
export interface RateDecision {
  readonly allowed: boolean
  /** Seconds to wait before the same request would be allowed; 0 when allowed. */
  readonly retryAfterS: number
  readonly states: readonly PolicyState[]
}

/** Request to the limiter: the policies that apply and what this request costs in each. */
export interface ConsumeRequest {
  readonly policies: readonly RatePolicy[]
  /** Units per policy name; a policy left out costs 0 and is only reported. */
  readonly costs: Readonly<Record<string, number>>
}

/** Durable Object that stores the GCRA state of one API key's policies. */
export class RateLimiter extends DurableObject {
  /**
   * Spends the request's cost in every policy, or in none when any policy would go over: a
   * rejected request leaves every bucket as it was.
   */
  async consume(request: ConsumeRequest): Promise<RateDecision> {
    const nowMs = Date.now()
    const steps = await Promise.all(
      request.policies.map(async (policy) => {
        const storedTatMs = await this.ctx.storage.get<number>(tatKey(policy))
        const cost = request.costs[policy.name] ?? 0
        return { policy, step: applyGcra({ policy, storedTatMs, nowMs, cost }) }
      })
    )
    const allowed = steps.every(({ step }) => step.allowed)

    if (allowed) {
      const entries = Object.fromEntries(
        steps.map(({ policy, step }) => [tatKey(policy), step.tatMs])
      )
      await this.ctx.storage.put(entries)
    }
    return {
      allowed,
      retryAfterS: Math.max(0, ...steps.map(({ step }) => step.retryAfterS)),
      states: steps.map(({ policy, step }) => ({
        policy,
        remaining: step.remaining,
        resetS: step.resetS,
      })),
    }
  }
}

// The quota and window are part of the storage key, so a changed policy starts a fresh bucket.
function tatKey(policy: RatePolicy): string {
  return `tat:${policy.name}:${policy.quota}:${policy.windowS}`
}
