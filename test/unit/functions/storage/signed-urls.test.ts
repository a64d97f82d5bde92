import { createHash, createHmac } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import {
  checkWorkerBlobUrl,
  encodeKeyPath,
  r2UrlSigner,
  workerUrlSigner,
} from '../../../../functions/storage/signed-urls.ts'

const KEY = 'edits/edt_abcdefghijklmnopqrstuvwx/1/image.png'
const SECRET = 'test-signing-secret-0123456789'
const NOW_MS = Date.UTC(2026, 0, 2, 3, 4, 5)

function makeWorkerSigner(nowMs = NOW_MS) {
  return workerUrlSigner({
    baseUrl: 'http://127.0.0.1:8787',
    secret: SECRET,
    ttlS: 600,
    nowMs: () => nowMs,
  })
}

async function check(url: string, requestMethod: string, nowS = NOW_MS / 1000) {
  const parsed = new URL(url)
  const key = decodeURIComponent(parsed.pathname.slice('/v1/blobs/'.length))
  return checkWorkerBlobUrl({
    secret: SECRET,
    key,
    requestMethod,
    query: parsed.searchParams,
    nowS,
  })
}

describe('workerUrlSigner', () => {
  it('signs a URL on the blob route', async () => {
    const signed = await makeWorkerSigner().sign({ key: KEY, method: 'GET' })

    const url = new URL(signed.url)
    expect(url.origin + url.pathname).toBe(`http://127.0.0.1:8787/v1/blobs/${KEY}`)
    expect(url.searchParams.get('method')).toBe('GET')
    expect(url.searchParams.get('expires')).toBe(String(NOW_MS / 1000 + 600))
    expect(signed.expiresAt.getTime()).toBe(NOW_MS + 600_000)
  })

  it('verifies for its own method', async () => {
    const signed = await makeWorkerSigner().sign({ key: KEY, method: 'PUT' })

    expect(await check(signed.url, 'PUT')).toBe('valid')
  })

  it('lets a GET grant serve HEAD', async () => {
    const signed = await makeWorkerSigner().sign({ key: KEY, method: 'GET' })

    expect(await check(signed.url, 'HEAD')).toBe('valid')
  })

  it('rejects another method', async () => {
    const signed = await makeWorkerSigner().sign({ key: KEY, method: 'GET' })

    expect(await check(signed.url, 'PUT')).toBe('invalid')
  })

  it('rejects another key', async () => {
    const signed = await makeWorkerSigner().sign({ key: KEY, method: 'GET' })

    expect(await check(signed.url.replace('/1/image.png', '/2/image.png'), 'GET')).toBe('invalid')
  })

  it('reports an expired URL', async () => {
    const signed = await makeWorkerSigner().sign({ key: KEY, method: 'GET', expiresInS: 5 })

    expect(await check(signed.url, 'GET', NOW_MS / 1000 + 6)).toBe('expired')
  })
})

describe('encodeKeyPath', () => {
  it('keeps slashes and encodes segments', () => {
    expect(encodeKeyPath('a b/c?d')).toBe('a%20b/c%3Fd')
  })
})

// RFC 3986 encoding as AWS Signature Version 4 requires for the canonical query string.
function awsEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`
  )
}

// SigV4 sorts by code unit, which localeCompare would not.
function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0
  return a < b ? -1 : 1
}

// Independent SigV4 query-signature computation, following the AWS documentation "Authenticating
// Requests: Using Query Parameters (AWS Signature Version 4)", for a URL without a body hash.
function expectedSignature(url: URL, method: string, secretAccessKey: string): string {
  const params = [...url.searchParams].filter(([name]) => name !== 'X-Amz-Signature')
  const canonicalQuery = params
    .map(([name, value]) => [awsEncode(name), awsEncode(value)])
    .sort(([a = ''], [b = '']) => compareCodeUnits(a, b))
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
  const canonicalRequest = [
    method,
    url.pathname,
    canonicalQuery,
    `host:${url.host}\n`,
    'host',
    'UNSIGNED-PAYLOAD',
  ].join('\n')
  const datetime = url.searchParams.get('X-Amz-Date') ?? ''
  const scope = `${datetime.slice(0, 8)}/auto/s3/aws4_request`
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    datetime,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n')

  const hmac = (key: Buffer | string, data: string) =>
    createHmac('sha256', key).update(data).digest()
  const kDate = hmac(`AWS4${secretAccessKey}`, datetime.slice(0, 8))
  const kSigning = hmac(hmac(hmac(kDate, 'auto'), 's3'), 'aws4_request')
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex')
}

describe('r2UrlSigner', () => {
  const signer = r2UrlSigner({
    accountId: 'acc123',
    bucketName: 'semani-blobs',
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    ttlS: 900,
    nowMs: () => NOW_MS,
  })

  it('presigns on the account endpoint', async () => {
    const signed = await signer.sign({ key: KEY, method: 'PUT' })

    const url = new URL(signed.url)
    expect(url.origin).toBe('https://acc123.r2.cloudflarestorage.com')
    expect(url.pathname).toBe(`/semani-blobs/${KEY}`)
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900')
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260102T030405Z')
    expect(url.searchParams.get('X-Amz-Credential')).toBe(
      'AKIDEXAMPLE/20260102/auto/s3/aws4_request'
    )
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host')
  })

  it('matches an independent SigV4 computation', async () => {
    const signed = await signer.sign({ key: KEY, method: 'PUT' })

    const url = new URL(signed.url)
    expect(url.searchParams.get('X-Amz-Signature')).toBe(
      expectedSignature(url, 'PUT', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
    )
  })

  it('scopes the signature to the method', async () => {
    const signed = await signer.sign({ key: KEY, method: 'GET' })

    const url = new URL(signed.url)
    expect(url.searchParams.get('X-Amz-Signature')).not.toBe(
      expectedSignature(url, 'PUT', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
    )
  })
})
