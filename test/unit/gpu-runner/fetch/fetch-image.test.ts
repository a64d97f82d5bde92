import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import { decodeDataUri, fetchImageBytes } from '../../../../gpu-runner/fetch/fetch-image.ts'
import { OutboundError, sendOutbound } from '../../../../gpu-runner/fetch/outbound-request.ts'
import {
  createOutboundPolicy,
  type OutboundPolicy,
} from '../../../../gpu-runner/fetch/url-policy.ts'

const IMAGE_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4])
const LIMITS = { maxBytes: 1024, timeoutMs: 2_000, maxRedirects: 2 }

// A loopback server whose routes model well-behaved and misbehaving image hosts.
function startImageHost(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/trusted/ok.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(IMAGE_BYTES)
    } else if (path === '/trusted/declared-big.png') {
      res.writeHead(200, { 'content-length': '5000' }).end(Buffer.alloc(5000))
    } else if (path === '/trusted/streamed-big.png') {
      res.writeHead(200)
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(500))
      res.end()
    } else if (path === '/trusted/never-answers.png') {
      // Keep the connection open without answering, so the client's time limit decides.
    } else if (path.startsWith('/trusted/hop/')) {
      const left = Number(path.split('/').at(-1))
      const next = left === 0 ? '/trusted/ok.png' : `/trusted/hop/${left - 1}`
      res.writeHead(302, { location: next }).end()
    } else if (path === '/trusted/to-untrusted.png') {
      res.writeHead(307, { location: '/untrusted/ok.png' }).end()
    } else if (path === '/trusted/missing.png') {
      res.writeHead(404).end('not here')
    } else if (path === '/trusted/broken.png') {
      res.writeHead(503).end()
    } else {
      res.writeHead(200).end(IMAGE_BYTES)
    }
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('fetchImageBytes', () => {
  let server: Server
  let origin: string
  let policy: OutboundPolicy

  beforeAll(async () => {
    server = await startImageHost()
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    policy = createOutboundPolicy({ trustedPrefixes: [`${origin}/trusted/`], local: true })
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  async function failure(path: string, limits = LIMITS): Promise<RunnerError> {
    const error = await fetchImageBytes({
      ref: origin + path,
      purpose: 'image',
      policy,
      limits,
    }).then(
      () => undefined,
      (caught: unknown) => caught
    )
    if (!(error instanceof RunnerError))
      throw new Error(`expected RunnerError, got ${String(error)}`)
    return error
  }

  it('returns the body of a trusted URL', async () => {
    const bytes = await fetchImageBytes({
      ref: `${origin}/trusted/ok.png?signature=abc`,
      purpose: 'image',
      policy,
      limits: LIMITS,
    })
    expect(Array.from(bytes)).toEqual(Array.from(IMAGE_BYTES))
  })

  it('refuses a URL outside the prefixes', async () => {
    const error = await failure('/untrusted/ok.png')
    expect(error.code).toBe('url-not-allowed')
  })

  it('refuses a declared oversized body', async () => {
    const error = await failure('/trusted/declared-big.png')
    expect(error.code).toBe('image-too-large')
    expect(error.message).toBe('The image is larger than 1024 bytes; send a smaller file.')
  })

  it('refuses a streamed oversized body', async () => {
    expect((await failure('/trusted/streamed-big.png')).code).toBe('image-too-large')
  })

  it('gives up on a silent host', async () => {
    const error = await failure('/trusted/never-answers.png', { ...LIMITS, timeoutMs: 200 })
    expect(error.code).toBe('fetch-failed')
    expect(error.retryable).toBe(true)
    expect(error.message).toContain('did not answer within 200 ms')
  })

  it('follows redirects up to the cap', async () => {
    const bytes = await fetchImageBytes({
      ref: `${origin}/trusted/hop/1`,
      purpose: 'image',
      policy,
      limits: LIMITS,
    })
    expect(bytes.byteLength).toBe(IMAGE_BYTES.byteLength)
  })

  it('stops after too many redirects', async () => {
    const error = await failure('/trusted/hop/5')
    expect(error.code).toBe('fetch-failed')
    expect(error.message).toContain('redirected more than 2 times')
  })

  it('re-checks each redirect hop', async () => {
    const error = await failure('/trusted/to-untrusted.png')
    expect(error.code).toBe('url-not-allowed')
    expect(error.message).toContain('/untrusted/ok.png')
  })

  it('reports HTTP errors with their status', async () => {
    const error = await failure('/trusted/missing.png')
    expect(error.message).toBe(
      `The image URL (${origin}/trusted/missing.png) responded with HTTP 404.`
    )
    expect(error.retryable).toBe(false)
  })

  it('marks 5xx answers retryable', async () => {
    expect((await failure('/trusted/broken.png')).retryable).toBe(true)
  })

  it('maps an abort to canceled', async () => {
    const controller = new AbortController()
    const pending = fetchImageBytes({
      ref: `${origin}/trusted/never-answers.png`,
      purpose: 'mask',
      policy,
      limits: LIMITS,
      signal: controller.signal,
    })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ code: 'canceled' })
  })
})

describe('sendOutbound', () => {
  it('refuses a name resolving to loopback outside local mode', async () => {
    // localhost resolves to loopback; the connect-time check refuses it before any connection.
    const error = await sendOutbound({
      url: new URL('http://localhost:9/'),
      method: 'GET',
      rules: { allowLoopback: false },
      timeoutMs: 2_000,
      maxResponseBytes: 1024,
    }).then(
      () => undefined,
      (caught: unknown) => caught
    )
    expect(error).toBeInstanceOf(OutboundError)
    expect((error as OutboundError).failure).toBe('address-not-allowed')
  })
})

describe('decodeDataUri', () => {
  it('decodes base64 image data', () => {
    const uri = `data:image/png;base64,${Buffer.from(IMAGE_BYTES).toString('base64')}`
    expect(Array.from(decodeDataUri(uri, { purpose: 'image', maxBytes: 100 }))).toEqual(
      Array.from(IMAGE_BYTES)
    )
  })

  it('rejects non-image media types', () => {
    expect(() =>
      decodeDataUri('data:text/plain;base64,AAAA', { purpose: 'image', maxBytes: 100 })
    ).toThrow('The image data URI is malformed; use data:image/<type>;base64,<data>.')
  })

  it('rejects oversized data before decoding', () => {
    const uri = `data:image/png;base64,${'A'.repeat(400)}`
    expect(() => decodeDataUri(uri, { purpose: 'mask', maxBytes: 100 })).toThrow(
      'The mask is larger than 100 bytes'
    )
  })
})
