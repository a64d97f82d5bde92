/**
 * One HTTP request from the runner to a caller-supplied URL, with the address check applied at
 * connect time.
 *
 * Node's `http.request` takes a `lookup` function; ours resolves the host, checks every
 * address it returns, and hands only checked addresses to the socket. So the address that was
 * checked is the address connected to, and a name that resolves to a private address between a
 * check and the connection (DNS rebinding) is still refused. IP-literal hosts bypass `lookup`
 * in Node, so they are checked before the request starts.
 *
 * This module follows no redirects; `fetch-image.ts` follows them itself and re-checks each hop.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'

import { isAddressAllowed, type AddressRules } from './address-policy.ts'

/** Kind of outbound request failure. */
export type OutboundFailure =
  'address-not-allowed' | 'timed-out' | 'too-large' | 'network' | 'aborted'

/** A failed outbound request; `failure` gives its kind. */
export class OutboundError extends Error {
  constructor(
    readonly failure: OutboundFailure,
    message: string,
    options: { cause?: unknown } = {}
  ) {
    super(message, { cause: options.cause })
    this.name = 'OutboundError'
  }
}

export interface OutboundRequest {
  /** Already checked with `checkOutboundUrl`. */
  readonly url: URL
  readonly method: 'GET' | 'PUT' | 'POST'
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array
  readonly rules: AddressRules
  /** Limit for the whole exchange, connection to last response byte. */
  readonly timeoutMs: number
  /** Largest response body accepted; a larger one fails with `too-large`. */
  readonly maxResponseBytes: number
  readonly signal?: AbortSignal
}

export interface OutboundResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Uint8Array
}

/**
 * Sends one request and reads the whole response body.
 *
 * @throws OutboundError on a refused address, a timeout, an oversized body, an abort through
 *   `signal` or a network failure. HTTP error statuses are returned, not thrown.
 */
export async function sendOutbound(request: OutboundRequest): Promise<OutboundResponse> {
  const host = request.url.hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0 && !isAddressAllowed(host, request.rules)) {
    throw new OutboundError('address-not-allowed', `Address ${host} is not allowed.`)
  }

  const timeout = AbortSignal.timeout(request.timeoutMs)
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout

  try {
    return await exchange(request, signal)
  } catch (error) {
    if (error instanceof OutboundError) throw error
    if (timeout.aborted) {
      throw new OutboundError('timed-out', `No complete response within ${request.timeoutMs} ms.`, {
        cause: error,
      })
    }
    if (request.signal?.aborted)
      throw new OutboundError('aborted', 'Request aborted.', { cause: error })
    throw new OutboundError('network', describeNetworkError(error), { cause: error })
  }
}

function exchange(request: OutboundRequest, signal: AbortSignal): Promise<OutboundResponse> {
  const send = request.url.protocol === 'https:' ? httpsRequest : httpRequest
  const headers: Record<string, string> = { ...request.headers }
  if (request.body !== undefined) headers['content-length'] = String(request.body.byteLength)

  return new Promise((resolve, reject) => {
    const outgoing = send(
      request.url,
      { method: request.method, headers, signal, lookup: checkedLookup(request.rules) },
      (incoming) => {
        const declaredBytes = Number(incoming.headers['content-length'] ?? NaN)
        if (declaredBytes > request.maxResponseBytes) {
          outgoing.destroy(tooLarge(request.maxResponseBytes))
          return
        }

        const chunks: Buffer[] = []
        let receivedBytes = 0
        incoming.on('data', (chunk: Buffer) => {
          receivedBytes += chunk.byteLength
          if (receivedBytes > request.maxResponseBytes) {
            outgoing.destroy(tooLarge(request.maxResponseBytes))
            return
          }
          chunks.push(chunk)
        })
        incoming.on('end', () => {
          const body = new Uint8Array(Buffer.concat(chunks))
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body })
        })
        incoming.on('error', reject)
      }
    )
    outgoing.on('error', reject)
    outgoing.end(request.body)
  })
}

/** Resolves a host name and refuses it unless every address it resolves to is allowed. */
function checkedLookup(rules: AddressRules): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, '', 0)
        return
      }
      const rejected = addresses.find((entry) => !isAddressAllowed(entry.address, rules))
      if (rejected !== undefined) {
        const message = `Host ${hostname} resolves to ${rejected.address}, which is not allowed.`
        callback(new OutboundError('address-not-allowed', message), '', 0)
        return
      }
      const [first] = addresses
      if (options.all) callback(null, addresses)
      else callback(null, first?.address ?? '', first?.family ?? 0)
    })
  }
}

function tooLarge(maxBytes: number): OutboundError {
  return new OutboundError('too-large', `Response body is larger than ${maxBytes} bytes.`)
}

function describeNetworkError(error: unknown): string {
  const code = error instanceof Error && 'code' in error ? String(error.code) : undefined

  return code === undefined ? 'Connection failed.' : `Connection failed (${code}).`
}
