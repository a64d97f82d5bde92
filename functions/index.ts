/**
 * The edge worker: the Hono app (middleware, routes, error rendering), the queue consumer and
 * the rate limiter's Durable Object class. Logic lives in routes/ and services/.
 */
import { Hono } from 'hono'
import { cors } from 'hono/cors'
import { requestId } from 'hono/request-id'
import { secureHeaders } from 'hono/secure-headers'

import type { AppEnv, Bindings, QueueMessageBody } from './env.ts'
import { renderError, renderNotFound } from './errors.ts'
import { requestContext } from './middleware/request-context.ts'
import { blobsRoutes } from './routes/blobs.ts'
import { editsRoutes } from './routes/edits.ts'
import { mcpRoutes } from './routes/mcp.ts'
import { openApiRoutes } from './routes/openapi.ts'
import { playgroundRoutes } from './routes/playground.ts'
import { runnerWebhooksRoutes } from './routes/runner-webhooks.ts'
import { toolsRoutes } from './routes/tools.ts'
import { uploadsRoutes } from './routes/uploads.ts'
import { usageRoutes } from './routes/usage.ts'
import { handleQueueBatch } from './services/queue-consumer.ts'

export { RateLimiter } from './services/rate-limit.ts'

export const app = new Hono<AppEnv>()

app.use(requestId({ headerName: 'Request-Id' }))
app.use(requestContext())
app.use(secureHeaders())
app.use(
  cors({
    origin: '*',
    allowHeaders: [
      'Authorization',
      'Content-Type',
      'Idempotency-Key',
      'Prefer',
      // Sent by browser MCP clients on every request after initialisation.
      'Mcp-Protocol-Version',
    ],
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'],
    exposeHeaders: [
      'Request-Id',
      'Location',
      'Retry-After',
      'Preference-Applied',
      'RateLimit',
      'RateLimit-Policy',
    ],
    maxAge: 600,
  })
)

app.route('/v1/edits', editsRoutes)
app.route('/v1/uploads', uploadsRoutes)
app.route('/v1/usage', usageRoutes)
app.route('/v1/blobs', blobsRoutes)
app.route('/v1/runner-webhooks', runnerWebhooksRoutes)
app.route('/v1/tools', toolsRoutes)
app.route('/mcp', mcpRoutes)
app.route('/', openApiRoutes)
app.route('/', playgroundRoutes)

app.onError(renderError)
app.notFound(renderNotFound)

export default {
  fetch: app.fetch,
  queue: handleQueueBatch,
} satisfies ExportedHandler<Bindings, QueueMessageBody>
