import { describe, expect, it } from 'vitest'

import { RunnerError } from '../../../../gpu-runner/errors.ts'
import {
  checkOutboundUrl,
  createOutboundPolicy,
  matchesTrustedPrefix,
  parseTrustedPrefix,
  redactUrl,
} from '../../../../gpu-runner/fetch/url-policy.ts'

// These tests only parse URL strings; nothing connects anywhere.
const policy = createOutboundPolicy({
  trustedPrefixes: ['https://blobs.example.test/in/', 'https://cdn.example.test/images'],
  local: false,
})

function refusal(url: string, local = false): RunnerError {
  const chosen = local ? { ...policy, local: true } : policy
  try {
    checkOutboundUrl(url, chosen, 'image')
  } catch (error) {
    if (error instanceof RunnerError) return error
    throw error
  }
  throw new Error(`expected ${url} to be refused`)
}

describe('matchesTrustedPrefix', () => {
  const prefix = new URL('https://cdn.example.test/images')

  it('admits the prefix path itself', () => {
    expect(matchesTrustedPrefix(new URL('https://cdn.example.test/images'), prefix)).toBe(true)
  })

  it('admits paths below the prefix', () => {
    expect(matchesTrustedPrefix(new URL('https://cdn.example.test/images/a.png'), prefix)).toBe(
      true
    )
  })

  it('refuses sibling paths sharing letters', () => {
    expect(matchesTrustedPrefix(new URL('https://cdn.example.test/images2/a.png'), prefix)).toBe(
      false
    )
  })

  it('refuses hosts that extend the prefix host', () => {
    const url = new URL('https://cdn.example.test.evil.test/images/a.png')
    expect(matchesTrustedPrefix(url, prefix)).toBe(false)
  })

  it('refuses another port', () => {
    expect(matchesTrustedPrefix(new URL('https://cdn.example.test:8443/images/a'), prefix)).toBe(
      false
    )
  })

  it('refuses dot segments leaving the prefix', () => {
    const url = new URL('https://blobs.example.test/in/../secret/a.png')
    expect(matchesTrustedPrefix(url, new URL('https://blobs.example.test/in/'))).toBe(false)
  })
})

describe('checkOutboundUrl', () => {
  it('accepts a signed URL under a prefix', () => {
    const url = checkOutboundUrl('https://blobs.example.test/in/a.png?sig=abc', policy, 'image')
    expect(url.pathname).toBe('/in/a.png')
  })

  it('refuses URLs outside the prefixes', () => {
    const error = refusal('https://other.example.test/in/a.png')
    expect(error.code).toBe('url-not-allowed')
    expect(error.slug).toBe('invalid-request')
    expect(error.message).toBe(
      'The image URL (https://other.example.test/in/a.png) is outside the prefixes this runner trusts.'
    )
  })

  it('refuses plain http outside local mode', () => {
    expect(refusal('http://blobs.example.test/in/a.png').message).toContain('uses http; use https')
  })

  it('refuses credentials in the URL', () => {
    expect(refusal('https://user:pw@blobs.example.test/in/a.png').message).toContain(
      'contains credentials'
    )
  })

  it('refuses a loopback literal outside local mode', () => {
    const loopbackPolicy = createOutboundPolicy({
      trustedPrefixes: ['https://127.0.0.1:9/'],
      local: false,
    })
    expect(() => checkOutboundUrl('https://127.0.0.1:9/a.png', loopbackPolicy, 'mask')).toThrow(
      'points at an address the runner must not contact'
    )
  })

  it('refuses a metadata literal in local mode', () => {
    const metadataPolicy = createOutboundPolicy({
      trustedPrefixes: ['http://169.254.169.254/'],
      local: true,
    })
    expect(() =>
      checkOutboundUrl('http://169.254.169.254/latest', metadataPolicy, 'image')
    ).toThrow('points at an address the runner must not contact')
  })

  it('refuses a decimal-encoded loopback host', () => {
    // The URL parser turns 2130706433 into 127.0.0.1, so the literal check sees loopback.
    const numericPolicy = createOutboundPolicy({
      trustedPrefixes: ['https://127.0.0.1/'],
      local: false,
    })
    expect(() => checkOutboundUrl('https://2130706433/a.png', numericPolicy, 'image')).toThrow(
      'points at an address'
    )
  })

  it('never echoes the query string', () => {
    expect(
      refusal('https://other.example.test/a.png?X-Amz-Signature=secret').message
    ).not.toContain('secret')
  })

  it('refuses text that is no URL', () => {
    expect(refusal('not a url').message).toBe('The image URL is not a valid absolute URL.')
  })
})

describe('parseTrustedPrefix', () => {
  it('rejects a prefix with a query', () => {
    expect(() => parseTrustedPrefix('https://blobs.example.test/?a=1')).toThrow(RangeError)
  })

  it('rejects a non-http scheme', () => {
    expect(() => parseTrustedPrefix('ftp://blobs.example.test/')).toThrow(RangeError)
  })
})

describe('redactUrl', () => {
  it('drops query, fragment and credentials', () => {
    expect(redactUrl('https://u:p@blobs.example.test/a.png?sig=1#x')).toBe(
      'https://blobs.example.test/a.png'
    )
  })

  it('shortens data URIs', () => {
    expect(redactUrl('data:image/png;base64,AAAA')).toBe('data:…')
  })
})
