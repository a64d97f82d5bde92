/**
 * Rate limits and quotas per API key, enforced by the key's RateLimiter Durable Object.
 *
 * Policies: `requests` (RATE_LIMIT_PER_MINUTE, or the key's own limit, per 60 s) on every
 * authenticated request, and `edits` (the key's edits per day, when it has a quota) charged by
 * `POST /v1/edits`. Every response carries `RateLimit-Policy` and `RateLimit`
 * (draft-ietf-httpapi-ratelimit-headers-10); a rejected request gets 429 `rate-limited` with
 * `Retry-After`.
 */
import type { Context, MiddlewareHandler } from 'hono'

import { ApiProblem } from '../../shared/problems.ts'
import { readConfig } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { formatRateLimit, formatRateLimitPolicy, type RatePolicy } from '../services/gcra.ts'
import type { ApiKeyRecord } from '../services/keys.ts'

const MINUTE_S = 60
const DAY_S = 24 * 3600

/** Lists the policies that apply to a key. */
export function policiesForKey(key: ApiKeyRecord, defaultPerMinute: number): RatePolicy[] {
  const policies: RatePolicy[] = [
    { name: 'requests', quota: key.rateLimitPerMinute ?? defaultPerMinute, windowS: MINUTE_S },
  ]
  if (key.editsPerDay !== null)
    policies.push({ name: 'edits', quota: key.editsPerDay, windowS: DAY_S })
  return policies
}

/** Charges one request, and one edit when `chargesEdit`, to the calling key's policies. */
export function rateLimit(options: { chargesEdit?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async function rateLimit(c, next) {
    const policies = readPolicies(c)
    const limiter = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(c.get('apiKey').id))
    const decision = await limiter.consume({
      policies,
      costs: { requests: 1, edits: options.chargesEdit ? 1 : 0 },
    })

    c.header('RateLimit-Policy', formatRateLimitPolicy(policies))
    c.header('RateLimit', formatRateLimit(decision.states))
    if (!decision.allowed) {
      const exhausted = decision.states.filter((state) => state.remaining === 0)
      const names = exhausted.map((state) => state.policy.name).join(' and ') || 'rate'
      throw new ApiProblem(
        'rate-limited',
        `The ${names} limit of this API key is used up. Retry after ${decision.retryAfterS} s.`,
        { retryAfterS: decision.retryAfterS }
      )
    }
    await next()
  }
}

function readPolicies(c: Context<AppEnv>): RatePolicy[] {
  return policiesForKey(c.get('apiKey'), readConfig(c.env).rateLimitPerMinute)
}
