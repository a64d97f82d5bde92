/**
 * The `edits` quota charge of an MCP tool call. The route's `rateLimit()` charges one request
 * per HTTP request, as on every `/v1` route. Only the JSON-RPC message tells which request
 * starts an edit, so `edit_image` charges the edit itself.
 */
import { ApiProblem } from '../../shared/problems.ts'
import { policiesForKey } from '../middleware/rate-limit.ts'
import type { ServiceContext } from '../services/context.ts'
import type { ApiKeyRecord } from '../services/keys.ts'

/**
 * Charges one edit to the key's daily edit quota; keys without a quota pass untouched.
 *
 * @throws ApiProblem `rate-limited` when the quota is used up.
 */
export async function chargeEditQuota(ctx: ServiceContext, apiKey: ApiKeyRecord): Promise<void> {
  const policies = policiesForKey(apiKey, ctx.config.rateLimitPerMinute).filter(
    (policy) => policy.name === 'edits'
  )
  if (policies.length === 0) return

  const limiter = ctx.env.RATE_LIMITER.get(ctx.env.RATE_LIMITER.idFromName(apiKey.id))
  const decision = await limiter.consume({ policies, costs: { edits: 1 } })
  if (decision.allowed) return

  throw new ApiProblem(
    'rate-limited',
    `The edits limit of this API key is used up. Retry after ${decision.retryAfterS} s.`,
    { retryAfterS: decision.retryAfterS }
  )
}
