import { createHmac } from 'node:crypto'

import { describe, expect, it } from 'vitest'

import {
  decodeWebhookSecret,
  fromBase64,
  hmacSha256,
  sha256Hex,
  signBlobGrant,
  signPayload,
  signStandardWebhook,
  timingSafeEqual,
  toBase64Url,
  toHex,
  verifyBlobGrant,
  verifyPayload,
  verifyStandardWebhook,
} from '../../../shared/signing.ts'

// A Standard Webhooks secret: "whsec_" and base64 of 32 bytes 0x01..0x20.
const WEBHOOK_SECRET = `whsec_${Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)).toString('base64')}`

describe('hmacSha256', () => {
  it('matches RFC 4231 test case 2', async () => {
    const mac = await hmacSha256('Jefe', 'what do ya want for nothing?')

    // RFC 4231 section 4.3, HMAC-SHA-256 output.
    expect(toHex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })
})

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 abc vector', async () => {
    // FIPS 180-2 appendix B.1: SHA-256("abc").
    expect(await sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    )
  })
})

describe('timingSafeEqual', () => {
  it('compares equal bytes', () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true)
  })

  it('rejects one differing byte', () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false)
  })

  it('rejects different lengths', () => {
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false)
  })
})

describe('fromBase64', () => {
  it('decodes url-safe unpadded text', () => {
    const bytes = new Uint8Array([251, 255, 191, 0])

    expect(fromBase64(toBase64Url(bytes))).toEqual(bytes)
  })

  it('rejects characters outside base64', () => {
    expect(fromBase64('abc$')).toBeUndefined()
  })
})

describe('blob grants', () => {
  const grant = { key: 'inputs/sha256/' + 'a'.repeat(64), method: 'GET' as const, expiresAtS: 2000 }

  it('accepts its own signature', async () => {
    const sig = await signBlobGrant('secret-0123456789', grant)

    expect(await verifyBlobGrant('secret-0123456789', grant, sig, 1999)).toBe('valid')
  })

  it('reports expiry after the deadline', async () => {
    const sig = await signBlobGrant('secret-0123456789', grant)

    expect(await verifyBlobGrant('secret-0123456789', grant, sig, 2001)).toBe('expired')
  })

  it('rejects another method', async () => {
    const sig = await signBlobGrant('secret-0123456789', grant)

    expect(await verifyBlobGrant('secret-0123456789', { ...grant, method: 'PUT' }, sig, 1)).toBe(
      'invalid'
    )
  })

  it('rejects a moved expiry', async () => {
    const sig = await signBlobGrant('secret-0123456789', grant)

    expect(await verifyBlobGrant('secret-0123456789', { ...grant, expiresAtS: 9999 }, sig, 1)).toBe(
      'invalid'
    )
  })
})

describe('signPayload', () => {
  it('matches an HMAC computed with node:crypto', async () => {
    const body = '{"id":"edt_1","status":"succeeded"}'

    const header = await signPayload({ secret: 'whsec_abc', body, timestampS: 1700000000 })

    const expected = createHmac('sha256', 'whsec_abc').update(`1700000000.${body}`).digest('hex')
    expect(header).toBe(`t=1700000000,v1=${expected}`)
  })

  it('verifies within the tolerance', async () => {
    const header = await signPayload({ secret: 's', body: 'b', timestampS: 1000 })

    expect(await verifyPayload({ secret: 's', body: 'b', header, nowS: 1299 })).toEqual({
      ok: true,
      timestampS: 1000,
    })
  })

  it('rejects a stale timestamp', async () => {
    const header = await signPayload({ secret: 's', body: 'b', timestampS: 1000 })

    expect(await verifyPayload({ secret: 's', body: 'b', header, nowS: 1301 })).toEqual({
      ok: false,
      reason: 'stale',
    })
  })

  it('rejects a changed body', async () => {
    const header = await signPayload({ secret: 's', body: 'b', timestampS: 1000 })

    expect(await verifyPayload({ secret: 's', body: 'c', header, nowS: 1000 })).toEqual({
      ok: false,
      reason: 'mismatch',
    })
  })
})

describe('Standard Webhooks', () => {
  const delivery = {
    id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    timestampS: 1674087231,
    body: '{"a":1}',
  }

  it('signs as node:crypto computes it', async () => {
    const headers = await signStandardWebhook({ secret: WEBHOOK_SECRET, ...delivery })

    // The Standard Webhooks scheme: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" under the
    // base64-decoded part of the secret after "whsec_".
    const key = Buffer.from(WEBHOOK_SECRET.slice('whsec_'.length), 'base64')
    const expected = createHmac('sha256', key)
      .update(`${delivery.id}.${delivery.timestampS}.${delivery.body}`)
      .digest('base64')
    expect(headers).toEqual({
      id: delivery.id,
      timestamp: String(delivery.timestampS),
      signature: `v1,${expected}`,
    })
  })

  it('accepts any listed signature', async () => {
    const headers = await signStandardWebhook({ secret: WEBHOOK_SECRET, ...delivery })

    const check = await verifyStandardWebhook({
      secret: WEBHOOK_SECRET,
      headers: { ...headers, signature: `v1,AAAA ${headers.signature}` },
      body: delivery.body,
      nowS: delivery.timestampS + 10,
    })
    expect(check.ok).toBe(true)
  })

  it('rejects a replay after the window', async () => {
    const headers = await signStandardWebhook({ secret: WEBHOOK_SECRET, ...delivery })

    const check = await verifyStandardWebhook({
      secret: WEBHOOK_SECRET,
      headers,
      body: delivery.body,
      nowS: delivery.timestampS + 301,
    })
    expect(check).toEqual({ ok: false, reason: 'stale' })
  })

  it('rejects missing headers', async () => {
    const check = await verifyStandardWebhook({
      secret: WEBHOOK_SECRET,
      headers: {},
      body: delivery.body,
      nowS: delivery.timestampS,
    })
    expect(check).toEqual({ ok: false, reason: 'malformed' })
  })

  it('rejects a secret without prefix', () => {
    expect(() => decodeWebhookSecret('abc')).toThrow(TypeError)
  })
})
