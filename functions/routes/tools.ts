/**
 * `GET /v1/tools`: the API's tools as OpenAI function tool definitions, ready for the `tools`
 * parameter of a Chat Completions request. The same tools, with the same input schemas, are
 * listed by the MCP server at `/mcp`. No API key is needed: this is documentation.
 */
import { Hono } from 'hono'

import type { AppEnv } from '../env.ts'
import { openAiFunctionTools } from '../mcp/tool-schemas.ts'

/** Seconds clients and caches may reuse the definitions. */
const TOOLS_MAX_AGE_S = 300

export const toolsRoutes = new Hono<AppEnv>()

toolsRoutes.get('/', (c) => {
  c.header('Cache-Control', `public, max-age=${TOOLS_MAX_AGE_S}`)
  return c.json({ tools: openAiFunctionTools() })
})
