/**
 * Per-request logging: binds the request id to a child logger for the handlers, and logs each
 * completed request with route, status and duration.
 */
import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'

import { readConfig } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { workerLogger } from '../log.ts'

/** Sets `log` on the context and logs `request.completed` once the response is ready. */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    const startMs = Date.now()
    const log = workerLogger(readConfig(c.env).logLevel).child({ requestId: c.get('requestId') })
    c.set('log', log)

    await next()

    // The matched route pattern, not the path, so ids and signed queries stay out of the log.
    const fields = {
      method: c.req.method,
      route: routePath(c, -1),
      status: c.res.status,
      durationMs: Date.now() - startMs,
    }
    if (c.res.status >= 500) log.warn('request.completed', fields)
    else log.info('request.completed', fields)
  }
}
