// Only classification is tested here: no test connects to any of these addresses.
import { describe, expect, it } from 'vitest'

import {
  checkOutboundUrl,
  classifyHost,
  parseIpv6,
} from '../../../../functions/services/address-check.ts'

describe('classifyHost', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['localhost', 'loopback'],
    ['api.localhost', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['[fd12:3456::1]', 'private'],
    ['169.254.1.1', 'link-local'],
    ['[fe80::1]', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['metadata.google.internal', 'metadata'],
    ['[fd00:ec2::254]', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['[::]', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['[2001:db8::1]', 'reserved'],
    ['93.184.216.34', 'public'],
    ['172.32.0.1', 'public'],
    ['[2606:4700::1111]', 'public'],
    ['example.com', 'public'],
  ])('classifies %s as %s', (host, expected) => {
    expect(classifyHost(host)).toBe(expected)
  })

  it('sees through IPv4-mapped IPv6', () => {
    // The URL parser writes [::ffff:127.0.0.1] as [::ffff:7f00:1].
    expect(classifyHost(new URL('http://[::ffff:127.0.0.1]/').hostname)).toBe('loopback')
  })

  it('sees through NAT64 prefixes', () => {
    expect(classifyHost('[64:ff9b::a9fe:a9fe]')).toBe('metadata')
  })

  it('classifies decimal IPv4 after URL parsing', () => {
    // WHATWG URL turns http://2130706433/ into 127.0.0.1.
    expect(classifyHost(new URL('http://2130706433/').hostname)).toBe('loopback')
  })
})

describe('parseIpv6', () => {
  it('expands a compressed address', () => {
    expect(parseIpv6('2001:db8::1')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])
  })

  it('reads a dotted IPv4 tail', () => {
    expect(parseIpv6('::ffff:10.0.0.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001])
  })

  it('rejects two compressions', () => {
    expect(parseIpv6('1::2::3')).toBeUndefined()
  })
})

describe('checkOutboundUrl', () => {
  it('allows https to a public host', () => {
    expect(
      checkOutboundUrl(new URL('https://example.com/a.png'), { allowLoopback: false })
    ).toBeUndefined()
  })

  it('rejects plain http', () => {
    expect(checkOutboundUrl(new URL('http://example.com/a.png'), { allowLoopback: false })).toBe(
      'the scheme http is not allowed; use https'
    )
  })

  it('rejects a metadata address', () => {
    expect(
      checkOutboundUrl(new URL('https://169.254.169.254/latest'), { allowLoopback: true })
    ).toBe('the host is a metadata address, which the API does not connect to')
  })

  it('rejects loopback outside the local stack', () => {
    expect(checkOutboundUrl(new URL('https://127.0.0.1/'), { allowLoopback: false })).toBe(
      'the host is a loopback address, which the API does not connect to'
    )
  })

  it('allows http loopback on the local stack', () => {
    expect(
      checkOutboundUrl(new URL('http://127.0.0.1:9/x'), { allowLoopback: true })
    ).toBeUndefined()
  })

  it('rejects private hosts even locally', () => {
    expect(checkOutboundUrl(new URL('http://10.0.0.1/'), { allowLoopback: true })).toBe(
      'the scheme http is not allowed; use https'
    )
  })

  it('rejects credentials in the URL', () => {
    expect(checkOutboundUrl(new URL('https://u:p@example.com/'), { allowLoopback: false })).toBe(
      'URLs with credentials are not allowed'
    )
  })
})
