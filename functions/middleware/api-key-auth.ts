/** Bearer API key authentication of the `/v1` resources. */
import type { MiddlewareHandler } from 'hono'

import { ApiProblem } from '../../shared/problems.ts'
import type { AppEnv } from '../env.ts'
import { authenticateApiKey } from '../services/keys.ts'

/** Requires `Authorization: Bearer <API key>` and sets `apiKey` on the context. */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuth(c, next) {
    const header = c.req.header('Authorization') ?? ''
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
    if (!token) {
      c.header('WWW-Authenticate', 'Bearer')
      throw new ApiProblem(
        'unauthorized',
        'Send your API key as "Authorization: Bearer <key>". Create one with `semani keys create`.'
      )
    }

    const apiKey = await authenticateApiKey(c.env.DB, token)
    if (!apiKey) {
      c.header('WWW-Authenticate', 'Bearer error="invalid_token"')
      throw new ApiProblem(
        'unauthorized',
        'The API key is not valid or has been revoked. Create a new one with `semani keys create`.'
      )
    }
    c.set('apiKey', apiKey)
    c.set('log', c.get('log').child({ keyId: apiKey.id }))
    await next()
  }
}
