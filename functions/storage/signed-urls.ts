/**
 * Signed blob URLs, scoped to one object, one method and an expiry, behind one interface.
 *
 * - `worker` (the local stack, and any deployment without R2 API credentials): the worker
 *   itself serves `/v1/blobs/<key>?method=&expires=&sig=`, where `sig` is HMAC-SHA256 under
 *   BLOB_SIGNING_SECRET (see shared/signing.ts). Bytes pass through the worker.
 * - `r2`: presigned S3 URLs of R2's S3-compatible endpoint (SigV4 query signing through
 *   aws4fetch), so bytes go straight between the client and R2.
 */
import { AwsClient } from 'aws4fetch'

import { signBlobGrant, verifyBlobGrant, type BlobGrantCheck } from '../../shared/signing.ts'
import type { Config } from '../config.ts'

export type BlobMethod = 'GET' | 'PUT'

/** A signed URL and the moment it stops working. */
export interface SignedUrl {
  readonly url: string
  readonly expiresAt: Date
}

/** Signs URLs that grant one method on one blob until an expiry. */
export interface BlobUrlSigner {
  readonly mode: 'worker' | 'r2'
  /** Signs `method` on `key` for `expiresInS` seconds (the configured TTL when omitted). */
  sign(options: { key: string; method: BlobMethod; expiresInS?: number }): Promise<SignedUrl>
}

/** Path prefix of worker-served blob URLs. */
export const BLOB_ROUTE_PREFIX = '/v1/blobs/'

/** Maximum lifetime of a signed URL: 7 days, the limit of SigV4 presigned URLs. */
export const MAX_SIGNED_URL_TTL_S = 7 * 24 * 3600

/**
 * Creates the signer the configuration selects.
 *
 * @throws Error when `r2` mode is configured without the R2 API credentials.
 */
export function createBlobUrlSigner(config: Config, nowMs: () => number = Date.now): BlobUrlSigner {
  const ttlS = config.blobs.urlTtlS
  if (config.blobs.urlMode === 'worker') {
    return workerUrlSigner({
      baseUrl: config.publicBaseUrl,
      secret: config.blobs.signingSecret,
      ttlS,
      nowMs,
    })
  }

  const r2 = config.blobs.r2
  if (!r2) {
    throw new Error(
      'BLOB_URL_MODE is "r2" but R2_ACCOUNT_ID, R2_BUCKET_NAME, R2_ACCESS_KEY_ID or ' +
        'R2_SECRET_ACCESS_KEY is missing.'
    )
  }
  return r2UrlSigner({ ...r2, ttlS, nowMs })
}

/** Signs worker-served blob URLs with HMAC-SHA256. */
export function workerUrlSigner(options: {
  baseUrl: string
  secret: string
  ttlS: number
  nowMs?: () => number
}): BlobUrlSigner {
  const { baseUrl, secret, ttlS, nowMs = Date.now } = options

  return {
    mode: 'worker',
    async sign({ key, method, expiresInS = ttlS }) {
      const expiresAtS = Math.floor(nowMs() / 1000) + clampTtl(expiresInS)
      const sig = await signBlobGrant(secret, { key, method, expiresAtS })
      const url = new URL(baseUrl + BLOB_ROUTE_PREFIX + encodeKeyPath(key))
      url.searchParams.set('method', method)
      url.searchParams.set('expires', String(expiresAtS))
      url.searchParams.set('sig', sig)
      return { url: url.toString(), expiresAt: new Date(expiresAtS * 1000) }
    },
  }
}

/**
 * Checks a worker-served blob URL's query against the request's method and the key in its path.
 * A HEAD request is allowed by a GET grant, as HTTP treats HEAD as GET without a body.
 */
export async function checkWorkerBlobUrl(options: {
  secret: string
  key: string
  requestMethod: string
  query: URLSearchParams
  nowS: number
}): Promise<BlobGrantCheck> {
  const { secret, key, requestMethod, query, nowS } = options
  const method = query.get('method')
  const expiresAtS = Number(query.get('expires'))
  const sig = query.get('sig')
  if ((method !== 'GET' && method !== 'PUT') || !Number.isInteger(expiresAtS) || !sig) {
    return 'invalid'
  }
  const effectiveMethod = requestMethod === 'HEAD' ? 'GET' : requestMethod
  if (effectiveMethod !== method) return 'invalid'

  return verifyBlobGrant(secret, { key, method, expiresAtS }, sig, nowS)
}

/** Signs presigned URLs of R2's S3-compatible endpoint. */
export function r2UrlSigner(options: {
  accountId: string
  bucketName: string
  accessKeyId: string
  secretAccessKey: string
  ttlS: number
  nowMs?: () => number
}): BlobUrlSigner {
  const { accountId, bucketName, accessKeyId, secretAccessKey, ttlS, nowMs = Date.now } = options
  // R2 takes the region "auto"; the service name is s3 as for any S3 endpoint.
  const client = new AwsClient({ accessKeyId, secretAccessKey, service: 's3', region: 'auto' })

  return {
    mode: 'r2',
    async sign({ key, method, expiresInS = ttlS }) {
      const ttl = clampTtl(expiresInS)
      const now = new Date(nowMs())
      const url = new URL(
        `https://${accountId}.r2.cloudflarestorage.com/${bucketName}/${encodeKeyPath(key)}`
      )
      url.searchParams.set('X-Amz-Expires', String(ttl))
      const datetime = now.toISOString().replace(/[:-]|\.\d{3}/g, '')
      const signed = await client.sign(new Request(url, { method }), {
        aws: { signQuery: true, datetime },
      })
      return { url: signed.url, expiresAt: new Date(now.getTime() + ttl * 1000) }
    },
  }
}

/** Percent-encodes each segment of a key, keeping the slashes between segments. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/')
}

function clampTtl(expiresInS: number): number {
  return Math.max(1, Math.min(MAX_SIGNED_URL_TTL_S, Math.floor(expiresInS)))
}
