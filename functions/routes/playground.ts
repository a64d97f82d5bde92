/**
 * `GET /`: the playground, a page that edits a photo through the public API. Its script and
 * style sheet come from same-origin routes, so the page's Content-Security-Policy needs no
 * 'unsafe-inline'.
 */
import { Hono } from 'hono'
import { secureHeaders } from 'hono/secure-headers'

import type { AppEnv } from '../env.ts'
import { PLAYGROUND_CLIENT_JS } from '../playground/client-bundle.ts'
import {
  PLAYGROUND_SCRIPT_PATH,
  PLAYGROUND_STYLE_PATH,
  renderPlaygroundPage,
} from '../playground/page.ts'
import { PLAYGROUND_CSS } from '../playground/styles.ts'

// Served without caching, so a deployment never pairs a new page with an old script.
const NO_CACHE = { 'Cache-Control': 'no-cache' }

/**
 * The page's policy. Images come from this origin (worker-served signed URLs), from blob: URLs
 * (the preview of the chosen file) and from https URLs, because with BLOB_URL_MODE "r2" the
 * result and mask are presigned URLs on R2's own host. API calls go to this origin only.
 */
const pageSecurityHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'blob:', 'https:'],
    connectSrc: ["'self'"],
    formAction: ["'none'"],
    baseUri: ["'none'"],
    frameAncestors: ["'none'"],
  },
})

let cachedPage: string | undefined

export const playgroundRoutes = new Hono<AppEnv>()

playgroundRoutes.get('/', pageSecurityHeaders, (c) => {
  cachedPage ??= renderPlaygroundPage()
  return c.html(cachedPage, 200, NO_CACHE)
})

playgroundRoutes.get(PLAYGROUND_SCRIPT_PATH, (c) =>
  c.body(PLAYGROUND_CLIENT_JS, 200, {
    ...NO_CACHE,
    'Content-Type': 'text/javascript; charset=utf-8',
  })
)

playgroundRoutes.get(PLAYGROUND_STYLE_PATH, (c) =>
  c.body(PLAYGROUND_CSS, 200, { ...NO_CACHE, 'Content-Type': 'text/css; charset=utf-8' })
)
