import { describe, expect, it } from 'vitest'

import {
  classifyAddress,
  isAddressAllowed,
  type AddressKind,
} from '../../../../gpu-runner/fetch/address-policy.ts'

// Expected kinds follow the IANA IPv4 and IPv6 special-purpose address registries and the
// metadata addresses that AWS, GCP, Azure, Alibaba Cloud and Oracle Cloud document.
const CASES: readonly (readonly [string, AddressKind])[] = [
  ['93.184.215.14', 'public'],
  ['8.8.8.8', 'public'],
  ['2606:4700:4700::1111', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'private'],
  ['fd12:3456::1', 'private'],
  ['fec0::1', 'private'],
  ['169.254.1.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['192.0.0.192', 'metadata'],
  ['fd00:ec2::254', 'metadata'],
  ['0.0.0.0', 'unspecified'],
  ['::', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'multicast'],
  ['255.255.255.255', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['2001:db8::1', 'reserved'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::a00:1', 'private'],
  ['2002:c0a8:101::1', 'private'],
  ['[::1]', 'loopback'],
]

describe('classifyAddress', () => {
  it.each(CASES)('classifies %s as %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind)
  })

  it('keeps public neighbours of private ranges', () => {
    expect(classifyAddress('172.15.255.255')).toBe('public')
    expect(classifyAddress('172.32.0.0')).toBe('public')
    expect(classifyAddress('100.63.255.255')).toBe('public')
    expect(classifyAddress('11.0.0.0')).toBe('public')
  })

  it('rejects text that is no address', () => {
    expect(() => classifyAddress('example.com')).toThrow(TypeError)
  })
})

describe('isAddressAllowed', () => {
  it('allows public addresses in both modes', () => {
    expect(isAddressAllowed('8.8.8.8', { allowLoopback: false })).toBe(true)
    expect(isAddressAllowed('8.8.8.8', { allowLoopback: true })).toBe(true)
  })

  it('allows loopback only in local mode', () => {
    expect(isAddressAllowed('127.0.0.1', { allowLoopback: false })).toBe(false)
    expect(isAddressAllowed('127.0.0.1', { allowLoopback: true })).toBe(true)
    expect(isAddressAllowed('::1', { allowLoopback: true })).toBe(true)
  })

  it('refuses private and metadata addresses in local mode', () => {
    expect(isAddressAllowed('10.0.0.1', { allowLoopback: true })).toBe(false)
    expect(isAddressAllowed('169.254.169.254', { allowLoopback: true })).toBe(false)
    expect(isAddressAllowed('::ffff:192.168.0.1', { allowLoopback: true })).toBe(false)
  })
})
