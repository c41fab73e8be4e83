import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import pg from 'pg'
import t from 'tap'
import { databaseKind, freshPostgresUrl } from '../helper.js'
import { HEARTBEAT_MS, LISTEN_RETRY_MAX_MS, listenForRevocations } from '../../src/revocation/revocation-events.js'
import { REVOCATION_CHANNEL } from '../../src/db/revocation-repository.js'
import { within } from './replicas.js'

/**
 * A LISTEN connection that dies without a FIN or RST (a NAT or firewall
 * forgetting it) raises no error; the heartbeat must notice it within the
 * bound README states (2 × HEARTBEAT_MS), and the listener must come back by
 * itself. The silence is made by a loopback TCP proxy that stops forwarding
 * the connections it carries without closing them.
 */

/** A TCP proxy to `target` whose current connections can be frozen (nothing forwarded, nothing closed). */
async function freezableProxy(t: { teardown: (fn: () => unknown) => void }, target: { host: string; port: number }) {
  const pairs: [Socket, Socket][] = []
  const server = createServer((client) => {
    const upstream = createConnection(target)
    client.pipe(upstream)
    upstream.pipe(client)
    for (const s of [client, upstream]) s.on('error', () => {})
    pairs.push([client, upstream])
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const pair of pairs) for (const s of pair) s.destroy()
    server.close()
  })
  return {
    port: (server.address() as { port: number }).port,
    freeze() {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
        // Kept open (so no FIN reaches either side) until teardown.
        t.teardown(() => [client, upstream].forEach((s) => s.destroy()))
      }
    },
  }
}

t.test('a silently dead LISTEN connection is noticed by the heartbeat and replaced', { skip: databaseKind !== 'postgres' && 'needs PostgreSQL (LISTEN/NOTIFY)' }, async (t) => {
  const url = new URL(await freshPostgresUrl(t))
  const proxy = await freezableProxy(t, { host: url.hostname, port: Number(url.port || 5432) })
  const viaProxy = new URL(url)
  viaProxy.port = String(proxy.port)
  const events: { what: string; at: number; serial?: string }[] = []
  const quiet = { info: () => {}, warn: (o: object, m: string) => t.comment(m, String((o as { err?: unknown }).err)), error: () => {} }
  const stop = listenForRevocations(viaProxy.toString(), {
    onSerial: (serial) => events.push({ what: 'serial', serial, at: Date.now() }),
    onListening: () => events.push({ what: 'listening', at: Date.now() }),
    onLost: () => events.push({ what: 'lost', at: Date.now() }),
  }, quiet)
  t.teardown(stop)
  const notifier = new pg.Client({ connectionString: url.toString() })
  await notifier.connect()
  t.teardown(() => notifier.end())
  const count = (what: string) => events.filter((e) => e.what === what).length
  const heard = (serial: string) => within(5_000, 20, async () => events.some((e) => e.serial === serial))

  t.ok((await within(10_000, 20, async () => count('listening') >= 1)) !== undefined, 'listening')
  await notifier.query(`select pg_notify('${REVOCATION_CHANNEL}', 'aa01')`)
  t.ok((await heard('aa01')) !== undefined, 'a notification arrives')

  const listened = count('listening')
  proxy.freeze()
  const frozenAt = Date.now()
  const bound = 2 * HEARTBEAT_MS
  const lost = () => events.find((e) => e.what === 'lost' && e.at >= frozenAt)
  t.ok((await within(bound + 2_000, 50, async () => lost() !== undefined)) !== undefined, 'the loss is reported')
  const lostAfter = (lost()?.at ?? Infinity) - frozenAt
  t.ok(lostAfter <= bound + 500, `within 2 × HEARTBEAT_MS = ${bound} ms (took ${lostAfter} ms)`)

  t.ok((await within(LISTEN_RETRY_MAX_MS + 5_000, 50, async () => count('listening') > listened)) !== undefined, 'listening again by itself, on a new connection')
  await notifier.query(`select pg_notify('${REVOCATION_CHANNEL}', 'aa02')`)
  t.ok((await heard('aa02')) !== undefined, 'notifications arrive again')
  t.comment(events.map((e) => `${e.what}${e.serial ? ` ${e.serial}` : ''} +${e.at - frozenAt} ms`).join(', '))
})
