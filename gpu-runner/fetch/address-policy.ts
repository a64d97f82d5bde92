/**
 * Classifies IP addresses before the runner connects to them.
 *
 * The runner fetches inputs from, uploads outputs to and posts webhooks to URLs that callers
 * send. Only public unicast addresses are reachable in production, so a caller cannot make the
 * runner talk to the host's own services, the private network or a cloud metadata endpoint.
 * Local mode (`--local`) also allows loopback, and nothing else, so tests can use servers they
 * start on 127.0.0.1 or ::1.
 *
 * Ranges come from the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and its
 * updates); metadata addresses are those the large clouds document for their instance metadata.
 */
import { isIPv4, isIPv6 } from 'node:net'

/** Class of an address, which decides whether the runner may connect to it. */
export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved'

/** Whether loopback addresses are allowed (local mode only). */
export interface AddressRules {
  readonly allowLoopback: boolean
}

interface Ipv4Range {
  readonly base: string
  readonly prefixLength: number
  readonly kind: Exclude<AddressKind, 'public'>
}

// Instance metadata endpoints: AWS, GCP and Azure (169.254.169.254), AWS ECS task metadata
// (169.254.170.2), Alibaba Cloud (100.100.100.200) and Oracle Cloud (192.0.0.192).
const IPV4_METADATA = new Set([
  '169.254.169.254',
  '169.254.170.2',
  '100.100.100.200',
  '192.0.0.192',
])

// AWS instance metadata over IPv6 (Nitro instances).
const IPV6_METADATA = new Set(['fd00:ec2:0:0:0:0:0:254'])

// Checked in order; the first matching range decides.
const IPV4_RANGES: readonly Ipv4Range[] = [
  { base: '0.0.0.0', prefixLength: 8, kind: 'unspecified' },
  { base: '10.0.0.0', prefixLength: 8, kind: 'private' },
  { base: '100.64.0.0', prefixLength: 10, kind: 'private' }, // carrier-grade NAT (RFC 6598)
  { base: '127.0.0.0', prefixLength: 8, kind: 'loopback' },
  { base: '169.254.0.0', prefixLength: 16, kind: 'link-local' },
  { base: '172.16.0.0', prefixLength: 12, kind: 'private' },
  { base: '192.0.0.0', prefixLength: 24, kind: 'reserved' }, // IETF protocol assignments
  { base: '192.0.2.0', prefixLength: 24, kind: 'reserved' }, // documentation
  { base: '192.88.99.0', prefixLength: 24, kind: 'reserved' }, // 6to4 relay anycast
  { base: '192.168.0.0', prefixLength: 16, kind: 'private' },
  { base: '198.18.0.0', prefixLength: 15, kind: 'reserved' }, // benchmarking
  { base: '198.51.100.0', prefixLength: 24, kind: 'reserved' }, // documentation
  { base: '203.0.113.0', prefixLength: 24, kind: 'reserved' }, // documentation
  { base: '224.0.0.0', prefixLength: 4, kind: 'multicast' },
  { base: '240.0.0.0', prefixLength: 4, kind: 'reserved' }, // includes 255.255.255.255
]

/**
 * Classifies an IPv4 or IPv6 address given as text.
 *
 * IPv6 addresses that carry an IPv4 address (IPv4-mapped, NAT64 well-known prefix, 6to4) are
 * classified by the IPv4 address inside them. A zone index (`fe80::1%eth0`) is ignored.
 *
 * @throws TypeError when `address` is not an IP address.
 */
export function classifyAddress(address: string): AddressKind {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  if (isIPv4(bare)) return classifyIpv4(parseIpv4(bare))
  if (isIPv6(bare)) return classifyIpv6(parseIpv6(bare))

  throw new TypeError(`Not an IP address: ${JSON.stringify(address)}`)
}

/** Returns whether the runner may connect to `address` under `rules`. */
export function isAddressAllowed(address: string, rules: AddressRules): boolean {
  const kind = classifyAddress(address)

  return kind === 'public' || (kind === 'loopback' && rules.allowLoopback)
}

function classifyIpv4(bytes: Uint8Array): AddressKind {
  const value = ipv4ToNumber(bytes)
  if (IPV4_METADATA.has(Array.from(bytes).join('.'))) return 'metadata'

  for (const range of IPV4_RANGES) {
    const base = ipv4ToNumber(parseIpv4(range.base))
    const mask = range.prefixLength === 0 ? 0 : (~0 << (32 - range.prefixLength)) >>> 0
    if ((value & mask) >>> 0 === base) return range.kind
  }
  return 'public'
}

function classifyIpv6(bytes: Uint8Array): AddressKind {
  const words = Array.from(
    { length: 8 },
    (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)
  )
  const text = words.map((word) => word.toString(16)).join(':')
  const w = (i: number): number => words[i] ?? 0
  const zeroUpTo = (end: number): boolean => words.slice(0, end).every((word) => word === 0)

  if (IPV6_METADATA.has(text)) return 'metadata'
  if (zeroUpTo(8)) return 'unspecified'
  if (zeroUpTo(7) && w(7) === 1) return 'loopback'
  // IPv4-mapped ::ffff:a.b.c.d and the NAT64 well-known prefix 64:ff9b::/96 carry an IPv4 address.
  if (zeroUpTo(5) && w(5) === 0xffff) return classifyIpv4(bytes.subarray(12))
  if (w(0) === 0x64 && w(1) === 0xff9b && w(2) === 0 && w(3) === 0 && w(4) === 0 && w(5) === 0) {
    return classifyIpv4(bytes.subarray(12))
  }
  // 6to4 (2002::/16) carries the IPv4 address in bits 16 to 47.
  if (w(0) === 0x2002) return classifyIpv4(bytes.subarray(2, 6))
  if ((w(0) & 0xfe00) === 0xfc00) return 'private' // unique local fc00::/7
  if ((w(0) & 0xffc0) === 0xfe80) return 'link-local'
  if ((w(0) & 0xffc0) === 0xfec0) return 'private' // deprecated site-local fec0::/10
  if ((w(0) & 0xff00) === 0xff00) return 'multicast'
  if (isReservedIpv6(w)) return 'reserved'
  return 'public'
}

function isReservedIpv6(w: (i: number) => number): boolean {
  const isIpv4Compatible = w(0) === 0 && w(1) === 0 && w(2) === 0 && w(3) === 0 && w(4) === 0
  const isDiscardOnly = w(0) === 0x100 && w(1) === 0 && w(2) === 0 && w(3) === 0
  const isLocalNat64 = w(0) === 0x64 && w(1) === 0xff9b && w(2) === 1
  const isProtocolAssignment = w(0) === 0x2001 && w(1) < 0x200 // Teredo, ORCHID and others
  const isDocumentation = w(0) === 0x2001 && w(1) === 0xdb8

  return (
    isIpv4Compatible || isDiscardOnly || isLocalNat64 || isProtocolAssignment || isDocumentation
  )
}

function ipv4ToNumber(bytes: Uint8Array): number {
  return (
    (((bytes[0] ?? 0) << 24) |
      ((bytes[1] ?? 0) << 16) |
      ((bytes[2] ?? 0) << 8) |
      (bytes[3] ?? 0)) >>>
    0
  )
}

function parseIpv4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number))
}

// Expands `::` and an embedded dotted IPv4 tail into 16 bytes; the input passed `isIPv6`.
function parseIpv6(text: string): Uint8Array {
  const [head = '', tail] = text.split('::')
  const headWords = expandIpv4Tail(head === '' ? [] : head.split(':'))
  const tailWords = expandIpv4Tail(tail === undefined || tail === '' ? [] : tail.split(':'))
  const gap = tail === undefined ? 0 : 8 - headWords.length - tailWords.length
  const words = [...headWords, ...new Array<string>(gap).fill('0'), ...tailWords]

  const bytes = new Uint8Array(16)
  words.forEach((group, i) => {
    const word = parseInt(group, 16)
    bytes[2 * i] = word >> 8
    bytes[2 * i + 1] = word & 0xff
  })
  return bytes
}

function expandIpv4Tail(groups: string[]): string[] {
  const last = groups.at(-1)
  if (last === undefined || !last.includes('.')) return groups

  const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number)
  return [...groups.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
}
