/**
 * GCRA (generic cell rate algorithm) buckets for rate limits and quotas, and the IETF RateLimit
 * headers that describe them.
 *
 * A policy allows `quota` units per `windowS`, all of which may be spent in a burst, refilling at
 * one unit per `windowS / quota`. Its state is one number, the theoretical arrival time (TAT):
 * the moment the bucket would be full again. A request of `cost` units moves TAT forward by
 * `cost × windowS / quota` and is allowed when the new TAT lies at most one window ahead of now.
 */

/** A quota of `quota` units per `windowS` seconds, named in the RateLimit headers. */
export interface RatePolicy {
  readonly name: string
  readonly quota: number
  readonly windowS: number
}

/** A policy's state after a request. */
export interface PolicyState {
  readonly policy: RatePolicy
  /** Units left that could be spent at once. */
  readonly remaining: number
  /** Seconds until the bucket is full again. */
  readonly resetS: number
}

/** One GCRA step: the decision for one policy and the TAT to store if the request goes ahead. */
export interface GcraStep {
  readonly allowed: boolean
  readonly tatMs: number
  readonly remaining: number
  readonly resetS: number
  readonly retryAfterS: number
}

/**
 * Applies GCRA for one policy.
 *
 * Symbols: T = windowMs / quota (emission interval), TAT = stored theoretical arrival time.
 * newTAT = max(TAT, now) + cost × T; allowed iff newTAT − now ≤ windowMs.
 */
export function applyGcra(options: {
  policy: RatePolicy
  storedTatMs: number | undefined
  nowMs: number
  cost: number
}): GcraStep {
  const { policy, storedTatMs, nowMs, cost } = options
  const windowMs = policy.windowS * 1000
  const intervalMs = windowMs / policy.quota

  const tatMs = Math.max(storedTatMs ?? nowMs, nowMs)
  const newTatMs = tatMs + cost * intervalMs
  const allowed = newTatMs - nowMs <= windowMs
  const effectiveTatMs = allowed ? newTatMs : tatMs

  return {
    allowed,
    tatMs: effectiveTatMs,
    remaining: Math.max(0, Math.floor((windowMs - (effectiveTatMs - nowMs)) / intervalMs + 1e-9)),
    resetS: Math.ceil((effectiveTatMs - nowMs) / 1000),
    retryAfterS: allowed ? 0 : Math.ceil((newTatMs - nowMs - windowMs) / 1000),
  }
}

/** Formats the `RateLimit-Policy` header (IETF draft-ietf-httpapi-ratelimit-headers-10). */
export function formatRateLimitPolicy(policies: readonly RatePolicy[]): string {
  return policies
    .map((policy) => `"${policy.name}";q=${policy.quota};w=${policy.windowS}`)
    .join(', ')
}

/** Formats the `RateLimit` header with the remaining units (`r`) and reset time (`t`). */
export function formatRateLimit(states: readonly PolicyState[]): string {
  return states
    .map((state) => `"${state.policy.name}";r=${state.remaining};t=${state.resetS}`)
    .join(', ')
}
