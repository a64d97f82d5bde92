/** `GET /openapi.json` and `GET /docs`, built once per isolate from the zod schemas. */
import { Hono } from 'hono'

import type { AppEnv } from '../env.ts'
import { renderDocsPage } from '../services/docs-page.ts'
import { buildOpenApiDocument } from '../services/openapi-document.ts'

let cached: { document: Record<string, unknown>; page: string } | undefined

function readDocs(): { document: Record<string, unknown>; page: string } {
  if (!cached) {
    const document = buildOpenApiDocument()
    cached = { document, page: renderDocsPage(document) }
  }
  return cached
}

export const openApiRoutes = new Hono<AppEnv>()

openApiRoutes.get('/openapi.json', (c) => c.json(readDocs().document))
openApiRoutes.get('/docs', (c) => c.html(readDocs().page))
