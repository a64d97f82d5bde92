/** `GET /v1/usage`: credits, edit counts, daily units and rate limits of the calling key. */
import { Hono } from 'hono'

import { readConfig } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { apiKeyAuth } from '../middleware/api-key-auth.ts'
import { policiesForKey, rateLimit } from '../middleware/rate-limit.ts'
import { readUsage } from '../services/usage.ts'

export const usageRoutes = new Hono<AppEnv>()

usageRoutes.use(apiKeyAuth())

usageRoutes.get('/', rateLimit(), async (c) => {
  const key = c.get('apiKey')
  const policies = policiesForKey(key, readConfig(c.env).rateLimitPerMinute)
  return c.json(await readUsage(c.env.DB, { key, policies, now: new Date() }))
})
