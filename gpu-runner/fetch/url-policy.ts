/**
 * Decides which URLs the runner may contact: input images and masks, output upload URLs and
 * webhooks.
 *
 * A URL passes when it uses https (or http in local mode), carries no credentials and starts
 * with one of the configured trusted prefixes at a path boundary. When its host is an IP
 * literal, `address-policy.ts` must also allow that address. Host names are checked again at
 * connect time, on every address they resolve to (`outbound-request.ts`).
 */
import { isIP } from 'node:net'

import { RunnerError } from '../errors.ts'
import { isAddressAllowed } from './address-policy.ts'

/** Rules for the URLs the runner may contact. */
export interface OutboundPolicy {
  /** Parsed trusted prefixes; a URL must start with one of them. */
  readonly trustedPrefixes: readonly URL[]
  /** Local mode: allows loopback addresses and plain http, for tests and local stacks. */
  readonly local: boolean
}

/** Use of a URL, named in error messages. */
export type UrlPurpose = 'image' | 'mask' | 'output_image_url' | 'output_mask_url' | 'webhook'

/**
 * Parses one `--trusted-prefix` value.
 *
 * @throws RangeError when the prefix is not an absolute http(s) URL without credentials, query
 *   or fragment.
 */
export function parseTrustedPrefix(text: string): URL {
  const prefix = URL.canParse(text) ? new URL(text) : undefined
  if (prefix === undefined || (prefix.protocol !== 'https:' && prefix.protocol !== 'http:')) {
    throw new RangeError(`Trusted prefix ${JSON.stringify(text)} is not an absolute http(s) URL.`)
  }
  if (
    prefix.username !== '' ||
    prefix.password !== '' ||
    prefix.search !== '' ||
    prefix.hash !== ''
  ) {
    throw new RangeError(
      `Trusted prefix ${JSON.stringify(text)} must not contain credentials, a query or a fragment.`
    )
  }
  return prefix
}

/** Builds a policy from prefix strings. @throws RangeError on an invalid prefix. */
export function createOutboundPolicy(options: {
  trustedPrefixes: readonly string[]
  local: boolean
}): OutboundPolicy {
  return {
    trustedPrefixes: options.trustedPrefixes.map(parseTrustedPrefix),
    local: options.local,
  }
}

/**
 * Returns whether `url` starts with `prefix`: same scheme, host and port, and a path that equals
 * the prefix's path or continues it after a `/`. A prefix `https://blobs.example/in` therefore
 * admits `/in/a.png` but not `/inbox/a.png`, and never `https://blobs.example.evil.test/`.
 */
export function matchesTrustedPrefix(url: URL, prefix: URL): boolean {
  if (url.origin !== prefix.origin) return false
  if (prefix.pathname.endsWith('/')) return url.pathname.startsWith(prefix.pathname)

  return url.pathname === prefix.pathname || url.pathname.startsWith(prefix.pathname + '/')
}

/**
 * Parses `text` and checks it against `policy`.
 *
 * @throws RunnerError `url-not-allowed` (problem type `invalid-request`) naming the purpose and
 *   the reason; the message shows the URL without its query string.
 */
export function checkOutboundUrl(text: string, policy: OutboundPolicy, purpose: UrlPurpose): URL {
  if (!URL.canParse(text)) throw notAllowed(purpose, 'is not a valid absolute URL')
  const url = new URL(text)

  const allowedSchemes = policy.local ? ['https:', 'http:'] : ['https:']
  if (!allowedSchemes.includes(url.protocol)) {
    throw notAllowed(
      purpose,
      `uses ${url.protocol.replace(':', '')}; use ${allowedSchemes.join(' or ')}`,
      url
    )
  }
  if (url.username !== '' || url.password !== '') {
    throw notAllowed(purpose, 'contains credentials', url)
  }
  if (!policy.trustedPrefixes.some((prefix) => matchesTrustedPrefix(url, prefix))) {
    throw notAllowed(purpose, 'is outside the prefixes this runner trusts', url)
  }
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0 && !isAddressAllowed(host, { allowLoopback: policy.local })) {
    throw notAllowed(purpose, 'points at an address the runner must not contact', url)
  }
  return url
}

/** Returns `url` without credentials, query string or fragment, for logs and error messages. */
export function redactUrl(url: string | URL): string {
  if (typeof url === 'string' && url.startsWith('data:')) return 'data:…'
  if (typeof url === 'string' && !URL.canParse(url)) return '(invalid URL)'
  const parsed = new URL(url)

  return parsed.origin + parsed.pathname
}

function notAllowed(purpose: UrlPurpose, reason: string, url?: URL): RunnerError {
  const location = url === undefined ? '' : ` (${redactUrl(url)})`

  return new RunnerError('url-not-allowed', `The ${purpose} URL${location} ${reason}.`, {
    details: { field: purpose },
  })
}
