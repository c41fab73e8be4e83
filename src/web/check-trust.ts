import { BlockList, isIP } from 'node:net'

/** proxy-addr's names for address ranges (KAGI_TRUST_PROXY accepts them, as Fastify does). */
const named: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
}

/**
 * Whether the direct peer of a connection is one of the proxies of
 * KAGI_TRUST_PROXY, the same rule Fastify applies to X-Forwarded-For: a hop
 * count trusts whoever connects (every request comes through that many
 * proxies), an address list trusts those addresses only. A client
 * certificate header is believed only from such a peer; anyone else could
 * write any certificate into it.
 */
export function trustedPeer(setting: number | readonly string[] | undefined): (address: string | undefined) => boolean {
  if (setting === undefined) return () => false
  if (typeof setting === 'number') return () => setting > 0
  const list = new BlockList()
  for (const item of setting.flatMap((entry) => named[entry] ?? [entry])) {
    const [address, prefix] = item.split('/') as [string, string | undefined]
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(address, family)
    else list.addSubnet(address, Number(prefix), family)
  }
  return (address) => {
    if (!address) return false
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    const bare = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '')
    const family = isIP(bare)
    return family !== 0 && list.check(bare, family === 6 ? 'ipv6' : 'ipv4')
  }
}
