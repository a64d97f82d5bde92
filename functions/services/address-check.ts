/**
 * Classification of the hosts in caller-supplied URLs (image_url, webhook_url), so the worker
 * never fetches a private, loopback, link-local or cloud metadata address for a caller.
 *
 * Only literal addresses and a few well-known names can be classified: Workers have no DNS API,
 * so a public name that resolves to a private address passes this check.
 * NOTE: Cloudflare's edge does not route Workers subrequests to private networks, which covers
 * that gap in production; the local stack relies on this check alone.
 *
 * Ranges follow the IANA special-purpose address registries (RFC 6890 and its updates).
 */

export type HostClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved'

type Ipv4Range = readonly [base: string, prefixLength: number, hostClass: HostClass]

// Checked in order, so the metadata addresses come before the ranges that contain them.
const IPV4_RANGES: readonly Ipv4Range[] = [
  ['169.254.169.254', 32, 'metadata'], // AWS, GCP, Azure, OpenStack instance metadata
  ['169.254.170.2', 32, 'metadata'], // AWS ECS task metadata
  ['100.100.100.200', 32, 'metadata'], // Alibaba Cloud instance metadata
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'], // shared address space (carrier-grade NAT)
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'], // documentation
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'], // benchmarking
  ['198.51.100.0', 24, 'reserved'], // documentation
  ['203.0.113.0', 24, 'reserved'], // documentation
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // includes the broadcast address 255.255.255.255
]

const METADATA_HOSTNAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data'])

/** Classifies a URL's `hostname` (IPv6 in brackets, as `URL` gives it). */
export function classifyHost(hostname: string): HostClass {
  const host = hostname.toLowerCase().replace(/\.$/, '')
  if (host.startsWith('[') && host.endsWith(']')) return classifyIpv6(host.slice(1, -1))

  const ipv4 = parseIpv4(host)
  if (ipv4 !== undefined) return classifyIpv4(ipv4)
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback'
  if (METADATA_HOSTNAMES.has(host)) return 'metadata'
  return 'public'
}

/** Parses dotted-decimal IPv4 into a 32-bit unsigned number, or undefined for anything else. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined

  const octets = parts.map(Number)
  if (octets.some((octet) => octet > 255)) return undefined
  return octets.reduce((value, octet) => value * 256 + octet, 0)
}

/** Classifies a 32-bit IPv4 address. */
export function classifyIpv4(address: number): HostClass {
  for (const [base, prefixLength, hostClass] of IPV4_RANGES) {
    const size = 2 ** (32 - prefixLength)
    const start = parseIpv4(base) ?? 0
    if (address >= start && address < start + size) return hostClass
  }
  return 'public'
}

/**
 * Parses an IPv6 address (with `::` and an optional dotted IPv4 tail) into eight 16-bit groups.
 * Zone ids (`%eth0`) are not valid in URLs and are rejected.
 */
export function parseIpv6(text: string): number[] | undefined {
  let body = text
  const tail: number[] = []
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(body)
  if (dotted) {
    const ipv4 = parseIpv4(dotted[2] ?? '')
    if (ipv4 === undefined) return undefined
    tail.push(Math.floor(ipv4 / 65536), ipv4 % 65536)
    body = (dotted[1] ?? '').endsWith('::') ? (dotted[1] ?? '') : (dotted[1] ?? '').slice(0, -1)
  }

  const halves = body.split('::')
  if (halves.length > 2) return undefined
  const parseGroups = (part: string | undefined): number[] | undefined => {
    if (!part) return []
    const groups = part.split(':')
    if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return undefined
    return groups.map((group) => parseInt(group, 16))
  }
  const head = parseGroups(halves[0])
  const rest = parseGroups(halves[1])
  if (!head || !rest) return undefined

  const known = head.length + rest.length + tail.length
  if (halves.length === 1) return known === 8 ? [...head, ...tail] : undefined
  if (known > 7) return undefined
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail]
}

/** Classifies an IPv6 address given without brackets. */
export function classifyIpv6(text: string): HostClass {
  const groups = parseIpv6(text)
  if (!groups) return 'reserved'
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups
  const embeddedIpv4 = g6 * 65536 + g7

  if (groups.every((group) => group === 0)) return 'unspecified'
  if (groups.slice(0, 7).every((group) => group === 0) && g7 === 1) return 'loopback'
  // IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses reach the embedded IPv4 host.
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return classifyIpv4(embeddedIpv4)
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return classifyIpv4(embeddedIpv4)
  }
  // AWS instance metadata over IPv6: fd00:ec2::254.
  if (g0 === 0xfd00 && g1 === 0xec2 && g2 + g3 + g4 + g5 + g6 === 0 && g7 === 0x254) {
    return 'metadata'
  }
  if ((g0 & 0xfe00) === 0xfc00) return 'private' // unique local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local' // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return 'private' // deprecated site-local fec0::/10
  if ((g0 & 0xff00) === 0xff00) return 'multicast'
  if (g0 === 0x2001 && g1 === 0xdb8) return 'reserved' // documentation 2001:db8::/32
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return 'reserved' // discard 100::/64
  if (g0 === 0) return 'reserved' // the rest of ::/8, including deprecated IPv4-compatible
  return 'public'
}

/** Reason an outbound URL was rejected, as a sentence for the caller. */
export type UrlRejection = string

/**
 * Checks a caller-supplied URL before the worker connects to it: https to a public host, or,
 * when `allowLoopback` is set (the local stack), also http or https to a loopback host.
 *
 * @returns undefined when the URL may be fetched, else the reason it may not.
 */
export function checkOutboundUrl(
  url: URL,
  options: { allowLoopback: boolean }
): UrlRejection | undefined {
  const hostClass = classifyHost(url.hostname)
  const loopbackAllowed = options.allowLoopback && hostClass === 'loopback'

  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopbackAllowed)) {
    return `the scheme ${url.protocol.slice(0, -1)} is not allowed; use https`
  }
  if (url.username || url.password) return 'URLs with credentials are not allowed'
  if (hostClass === 'public' || loopbackAllowed) return undefined
  return `the host is a ${hostClass} address, which the API does not connect to`
}
