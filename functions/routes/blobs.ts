/**
 * `GET`, `HEAD` and `PUT /v1/blobs/<key>?method=&expires=&sig=`: worker-served signed blob URLs
 * (see storage/signed-urls.ts). The signature is the only credential: it names one key, one
 * method and an expiry, and a tampered, expired or misused URL is a 403 problem.
 */
import { Hono, type Context } from 'hono'

import { MAX_IMAGE_BYTES } from '../../shared/limits.ts'
import { ApiProblem } from '../../shared/problems.ts'
import { readConfig } from '../config.ts'
import type { AppEnv } from '../env.ts'
import { isKnownBlobKey } from '../storage/blob-keys.ts'
import { writeBlob } from '../storage/blob-store.ts'
import { BLOB_ROUTE_PREFIX, checkWorkerBlobUrl } from '../storage/signed-urls.ts'

export const blobsRoutes = new Hono<AppEnv>()

blobsRoutes.on(['GET', 'HEAD'], '/*', async (c) => {
  const key = await authorise(c)
  const object = await c.env.BLOBS.get(key)
  if (!object) throw new ApiProblem('not-found', 'The object this URL names does not exist.')

  const headers = new Headers({
    'Content-Type': object.httpMetadata?.contentType ?? 'application/octet-stream',
    'Content-Length': String(object.size),
    ETag: object.httpEtag,
    'Cache-Control': 'private, max-age=300',
  })
  return new Response(c.req.method === 'HEAD' ? null : object.body, { headers })
})

blobsRoutes.put('/*', async (c) => {
  const key = await authorise(c)
  const declared = Number(c.req.header('Content-Length') ?? NaN)
  if (!(declared >= 0)) {
    throw new ApiProblem('invalid-request', 'Send the object with a Content-Length header.')
  }
  if (declared > MAX_IMAGE_BYTES) {
    throw new ApiProblem('payload-too-large', `Objects are limited to ${MAX_IMAGE_BYTES} bytes.`)
  }

  const bytes = new Uint8Array(await c.req.arrayBuffer())
  if (bytes.byteLength !== declared) {
    throw new ApiProblem('invalid-request', 'The body length differs from Content-Length.')
  }
  const contentType = c.req.header('Content-Type') ?? 'application/octet-stream'
  const object = await writeBlob({
    bucket: c.env.BLOBS,
    key,
    bytes,
    contentType,
    log: c.get('log'),
  })
  return c.body(null, 200, { ETag: object.httpEtag })
})

async function authorise(c: Context<AppEnv>): Promise<string> {
  const url = new URL(c.req.url)
  const key = decodeURIComponent(url.pathname.slice(BLOB_ROUTE_PREFIX.length))
  const check = isKnownBlobKey(key)
    ? await checkWorkerBlobUrl({
        secret: readConfig(c.env).blobs.signingSecret,
        key,
        requestMethod: c.req.method,
        query: url.searchParams,
        nowS: Math.floor(Date.now() / 1000),
      })
    : 'invalid'

  if (check === 'expired') {
    throw new ApiProblem(
      'forbidden',
      'This signed URL has expired. Request a fresh one from the API.'
    )
  }
  if (check === 'invalid') {
    throw new ApiProblem(
      'forbidden',
      'This signed URL is not valid for this object and method. Use the URL exactly as the API returned it.'
    )
  }
  return key
}
