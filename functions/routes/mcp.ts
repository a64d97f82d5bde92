/**
 * `/mcp`: the MCP server (Streamable HTTP), authenticated with the same API keys as `/v1` and
 * charged one request per HTTP request. Only POST carries messages. The server is stateless,
 * so it offers no server-sent event stream on GET and no session to end with DELETE, and it
 * returns 405 for both, as the transport specification allows.
 */
import { Hono } from 'hono'

import type { AppEnv } from '../env.ts'
import { handleMcpRequest } from '../mcp/server.ts'
import { apiKeyAuth } from '../middleware/api-key-auth.ts'
import { rateLimit } from '../middleware/rate-limit.ts'
import { serviceContext } from '../services/context.ts'

// JSON-RPC error code the MCP SDK uses for transport-level rejections.
const TRANSPORT_ERROR_CODE = -32000

export const mcpRoutes = new Hono<AppEnv>()

mcpRoutes.use(apiKeyAuth())

mcpRoutes.post('/', rateLimit(), (c) => {
  const requestId = c.get('requestId')
  const apiKey = c.get('apiKey')
  const ctx = serviceContext(c.env, { requestId, keyId: apiKey.id })
  return handleMcpRequest(c.req.raw, { ctx, apiKey, requestId })
})

mcpRoutes.on(['GET', 'DELETE'], '/', (c) => {
  c.header('Allow', 'POST')
  return c.json(
    {
      jsonrpc: '2.0',
      error: {
        code: TRANSPORT_ERROR_CODE,
        message: 'Method not allowed: this stateless server takes MCP messages by POST only.',
      },
      id: null,
    },
    405
  )
})
