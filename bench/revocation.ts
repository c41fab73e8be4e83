import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { revoke } from '../src/use-cases/revoke.js'
import { revokeCertificate } from '../src/db/revocation-repository.js'
import { enroll } from '../src/use-cases/enroll.js'
import { startBenchKagi, startClusterServer, type BenchKagi } from './bench-kagi.js'
import { ocspClient, opensslGencrlMs, opensslOcspPeer, opensslPki, sh } from './openssl-peer.js'
import { plan } from './plan.js'
import { progress } from './progress.js'
import { record } from './results.js'
import { TARGET_REVOKED, TARGETS } from './targets.js'
import type { LoadResult } from './load.js'

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}

/** 10,000 → '10k', for the figures' ids. */
const thousands = (n: number): string => `${n / 1000}k`

/** A number of entries as the printed lines write it: 100,000. */
const entries = (n: number): string => n.toLocaleString('en-US')

/**
 * Revocation benchmarks: OCSP (cached and fresh, on kept and on new
 * connections) against `openssl ocsp`, CRL signing at 10,000 and
 * `plan.revoked` entries against `openssl ca -gencrl`, and revocation
 * latency with `plan.revoked` revoked certificates in the database (100,000;
 * 10,000 in the quick run, where the CRL figures at 10,000 are all there is).
 */
export async function benchRevocation(databaseUrl: string | undefined, seconds: number): Promise<string[]> {
  const out: string[] = []
  const revoked = plan.revoked
  /** The issue's revocation and CRL targets are for 100,000: a smaller run records its figures without a verdict. */
  const targetApplies = revoked >= TARGET_REVOKED
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-bench-rev-'))
  const peerDir = mkdtempSync(join(tmpdir(), 'kagi-bench-peer-'))
  let kagi: BenchKagi | undefined
  try {
    kagi = await startBenchKagi(dataDir, databaseUrl)
    const { database, services } = kagi
    const url = `${kagi.origin}/ocsp`
    const issuerSerial = (await database.db.selectFrom('ca_certificate').select('serial').where('role', '=', 'issuing').where('active', '=', true).executeTakeFirstOrThrow()).serial
    // A real kagi certificate to ask OCSP about; enrolling it also creates the bench user.
    const leaf = await enroll(services, { actor: { label: 'bench', role: 'admin' }, email: 'bench@example.com', profile: 'user', key: { generate: 'ecdsa-p256' }, deliver: { as: 'pkcs12' }, current: 'supersede' })
    const user = { id: (await services.findUserId('bench@example.com'))! }

    // Revoked history: rows inserted directly (the CRL and revocation paths read them like any other).
    const addRevoked = async (from: number, count: number): Promise<void> => {
      await sql`insert into certificate (serial, der, profile, subject, key_type, user_id, issuer_serial, not_before, not_after, status, revoked_at, revocation_reason)
        select '4' || substr(md5(i::text), 2), '\\x00'::bytea, 'user', 'bench@example.com', 'ecdsa-p256', ${user.id}::uuid, ${issuerSerial}, now(), now() + interval '300 days', 'revoked', now() - interval '1 day', 'keyCompromise'
        from generate_series(${from}::int, ${from + count - 1}::int) as i`.execute(database.db)
    }
    opensslPki(peerDir, 0)
    // The rows above bypass the revocation path, so the CRL reads them with a full read, as at start and at each re-signing interval.
    const timeCrl = async (): Promise<number> => {
      const t0 = performance.now()
      await services.crl.issuing.rebuild()
      await services.crl.issuing.flush()
      return performance.now() - t0
    }
    // A CRL after one revocation, from the API call to the CRL stored: the row appended to the entries held, one signature (median of 5).
    const timeCrlAfterRevocation = async (): Promise<number> => {
      const serials = [0, 1, 2, 3, 4].map((i) => `5${String(i).padStart(31, '0')}`)
      await sql`insert into certificate (serial, der, profile, subject, key_type, user_id, issuer_serial, not_before, not_after)
        select s, '\\x00'::bytea, 'user', 'bench@example.com', 'ecdsa-p256', ${user.id}::uuid, ${issuerSerial}, now(), now() + interval '300 days' from unnest(${serials}::text[]) as s`.execute(database.db)
      const times: number[] = []
      for (const serial of serials) {
        const t0 = performance.now()
        await revoke(services, serial, 'keyCompromise', 'bench')
        await services.crl.issuing.flush()
        times.push(performance.now() - t0)
      }
      return percentile(times, 0.5)
    }
    // Full reads at 10,000 and (unless that is all this run revokes) at `revoked`; the CRL after a revocation at `revoked`.
    const sizes = revoked > 10_000 ? [10_000, revoked] : [10_000]
    const fullRead: { size: number; kagi: number; peer: number }[] = []
    let afterRevocation = Number.NaN
    for (const [i, size] of sizes.entries()) {
      progress(`CRL with ${entries(size)} revoked entries`)
      await addRevoked(sizes[i - 1] ?? 0, size - (sizes[i - 1] ?? 0))
      const kagiMs = await timeCrl()
      // At the last size the CRL after a revocation is timed before the peer, as it always was.
      if (i === sizes.length - 1) afterRevocation = await timeCrlAfterRevocation()
      fullRead.push({ size, kagi: kagiMs, peer: opensslGencrlMs(peerDir, size) })
    }
    const peerAtRevoked = fullRead[fullRead.length - 1]!.peer
    const crlBytes = (await services.crl.issuing.get())!.der.length
    const crlEntries = (await services.crl.issuing.get())!.entries
    out.push(`CRL after a revocation with ${entries(revoked)} entries (revocation + append its row + assemble + sign + store): ${afterRevocation.toFixed(0)} ms (median of 5; ${crlEntries} entries, ${(crlBytes / 1e6).toFixed(1)} MB)`)
    out.push(`CRL with a full read (query + encode + sign + store; at start and each re-signing interval): ${fullRead.map((r) => `${entries(r.size)} entries ${r.kagi.toFixed(0)} ms`).join(', ')}`)
    out.push(`  peer: openssl ca -gencrl: ${fullRead.map((r) => `${entries(r.size)} ${r.peer.toFixed(0)} ms`).join(', ')}; ratio kagi/openssl after a revocation ${(afterRevocation / peerAtRevoked).toFixed(2)}, full read ${fullRead.map((r) => (r.kagi / r.peer).toFixed(2)).join(' and ')} (lower is faster)`)
    const gencrl = (size: number) => ({ name: `openssl ca -gencrl, ${entries(size)} entries`, value: fullRead.find((r) => r.size === size)!.peer })
    record({ id: `crl-after-revocation-${thousands(revoked)}`, what: `CRL after a revocation with ${entries(revoked)} revoked: revocation + its entry appended + sign + store (median of 5)`, kagi: afterRevocation, unit: 'ms', better: 'lower', peer: gencrl(revoked), target: TARGETS.crlAfterRevocation, targetApplies })
    for (const r of fullRead) {
      record({ id: `crl-full-read-${thousands(r.size)}`, what: `CRL with a full read of ${entries(r.size)} revoked (query + encode + sign + store; at start and each re-signing)`, kagi: r.kagi, unit: 'ms', better: 'lower', peer: gencrl(r.size) })
    }

    progress(`revocation latency with ${entries(revoked)} revoked`)
    const serials: string[] = []
    for (let i = 0; i < 200; i++) {
      serials.push(`4${String(i).padStart(31, '0')}`, `6${String(i).padStart(31, '0')}`)
    }
    await sql`insert into certificate (serial, der, profile, subject, key_type, user_id, issuer_serial, not_before, not_after)
      select s, '\\x00'::bytea, 'user', 'bench@example.com', 'ecdsa-p256', ${user.id}::uuid, ${issuerSerial}, now(), now() + interval '300 days' from unnest(${serials}::text[]) as s`.execute(database.db)
    // The peer, interleaved so that both see the same machine: the revocation transaction alone, announced to no CRL or OCSP cache.
    const latencies: number[] = []
    const bare: number[] = []
    for (let i = 0; i < serials.length; i += 2) {
      let t0 = performance.now()
      await revoke(services, serials[i]!, 'keyCompromise', 'bench')
      latencies.push(performance.now() - t0)
      t0 = performance.now()
      await revokeCertificate(database.db, serials[i + 1]!, 'keyCompromise', 'bench')
      bare.push(performance.now() - t0)
    }
    await services.crl.issuing.get()
    out.push(`revocation with ${entries(revoked)} revoked (transaction + audit + OCSP invalidation; CRL re-signed in the background): p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms over ${latencies.length}`)
    out.push(`  peer: the transaction alone, interleaved (no CRL, no OCSP invalidation${databaseUrl ? '; other replicas would still hear its NOTIFY, and this one does' : ''}): p50 ${percentile(bare, 0.5).toFixed(1)} ms, p99 ${percentile(bare, 0.99).toFixed(1)} ms`)
    const transactionAlone = 'the revocation transaction alone, interleaved'
    for (const [p, name] of [[0.99, 'p99'], [0.5, 'p50']] as const) {
      record({
        id: `revocation-${name}-${thousands(revoked)}`,
        what: `revocation with ${entries(revoked)} revoked, ${name} over ${latencies.length} (transaction + audit + OCSP invalidation; CRL re-signed in the background)`,
        kagi: percentile(latencies, p),
        unit: 'ms',
        better: 'lower',
        peer: { name: transactionAlone, value: percentile(bare, p) },
        ...(name === 'p99' ? { target: TARGETS.revocationP99, targetApplies } : {}),
      })
    }

    const rounds = plan.ocsp.rounds
    const ocspSeconds = plan.ocsp.seconds
    const roundsText = rounds === 1 ? 'one round' : rounds === 2 ? 'best of two rounds' : `best of ${rounds} rounds`
    progress(`OCSP for ${ocspSeconds} s each, ${rounds} round(s): kagi cached, kagi fresh (nonce), both without last-seen counting, kagi fresh on new connections, openssl ocsp`)
    writeFileSync(join(dataDir, 'leaf.pem'), leaf.certificatePem)
    writeFileSync(join(dataDir, 'issuing.der'), services.ca.issuing.der)
    sh('openssl', ['x509', '-inform', 'DER', '-in', 'issuing.der', '-out', 'issuing.pem'], dataDir)
    sh('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'leaf.pem', '-no_nonce', '-reqout', 'cached.der'], dataDir)
    sh('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'leaf.pem', '-nonce', '-reqout', 'fresh.der'], dataDir)
    // The peer's PKI again without the CRL phase's revoked entries.
    opensslPki(peerDir, 0)
    // Every figure here is the best of `rounds` runs, the runs alternating within each round: "last seen by the VPN"
    // counts every request, so the same load without it (KAGI_OCSP_LAST_SEEN=false); then kagi with a new
    // connection per request, and openssl. Warm-up, the CRL work left from the phase above and the machine's
    // other load thus fall on all of them alike.
    const best = (a: LoadResult | undefined, b: LoadResult): LoadResult => (a && a.perSecond >= b.perSecond ? a : b)
    const measured: Record<'counted' | 'uncounted', { cached?: LoadResult; fresh?: LoadResult }> = { counted: {}, uncounted: {} }
    let freshNewConnection: LoadResult | undefined
    let peerFresh: LoadResult | undefined
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['counted', 'uncounted'] as const) {
        services.ocspChecks.enabled = mode === 'counted'
        const c = await ocspClient(url, join(dataDir, 'cached.der'), ocspSeconds)
        const f = await ocspClient(url, join(dataDir, 'fresh.der'), ocspSeconds)
        measured[mode] = { cached: best(measured[mode].cached, c), fresh: best(measured[mode].fresh, f) }
      }
      services.ocspChecks.enabled = true
      freshNewConnection = best(freshNewConnection, await ocspClient(url, join(dataDir, 'fresh.der'), ocspSeconds, { close: true }))
      peerFresh = best(peerFresh, await opensslOcspPeer(peerDir, ocspSeconds))
    }
    const cached = measured.counted.cached!
    const fresh = measured.counted.fresh!
    const cachedUncounted = measured.uncounted.cached!
    const freshUncounted = measured.uncounted.fresh!
    const peer = { fresh: peerFresh! }
    const newConnection = freshNewConnection!
    out.push(`OCSP responses/s (16 in flight, ${roundsText}): kagi cached ${cached.perSecond.toFixed(0)}, kagi fresh with nonce ${fresh.perSecond.toFixed(0)}; errors ${cached.errors + fresh.errors}`)
    out.push(`  without "last seen" counting: cached ${cachedUncounted.perSecond.toFixed(0)}, fresh ${freshUncounted.perSecond.toFixed(0)} (with/without: ${(cached.perSecond / cachedUncounted.perSecond).toFixed(2)} and ${(fresh.perSecond / freshUncounted.perSecond).toFixed(2)})`)
    out.push(`  peer: openssl ocsp responder (fresh, nonce): ${peer.fresh.perSecond.toFixed(0)}/s; ratio kagi fresh/openssl ${(fresh.perSecond / peer.fresh.perSecond).toFixed(2)}, cached/openssl ${(cached.perSecond / peer.fresh.perSecond).toFixed(2)}${peer.fresh.errors ? `; peer errors ${peer.fresh.errors} (${peer.fresh.firstError})` : ''}`)
    out.push(`OCSP fresh (nonce), a new connection per request, 16 in flight (Connection: close; ${roundsText}, alternating with the peer): kagi ${newConnection.perSecond.toFixed(0)}/s, p50 ${newConnection.p50ms.toFixed(1)} ms with the connection's set-up; errors ${newConnection.errors}${newConnection.firstError ? ` (${newConnection.firstError})` : ''}`)
    out.push(`  peer: openssl ocsp responder, the figure above (it closes every connection after its answer, so all its requests come on new connections): ${peer.fresh.perSecond.toFixed(0)}/s; ratio kagi/openssl ${(newConnection.perSecond / peer.fresh.perSecond).toFixed(2)}`)
    const opensslOcsp = { name: 'openssl ocsp responder (fresh, nonce; a new connection per request, as it closes each)', value: peer.fresh.perSecond }
    const uncounted = (value: number) => ({ name: 'kagi without "last seen" counting (KAGI_OCSP_LAST_SEEN=false)', value })
    const perSecond = { unit: 'responses/s', better: 'higher' } as const
    record({ id: 'ocsp-fresh', what: `OCSP fresh (nonce), 16 in flight on kept connections, ${roundsText}`, kagi: fresh.perSecond, ...perSecond, peer: opensslOcsp, target: TARGETS.ocspFresh })
    record({ id: 'ocsp-fresh-new-connection', what: `OCSP fresh (nonce), a new connection per request, 16 in flight, ${roundsText} alternating with the peer`, kagi: newConnection.perSecond, ...perSecond, peer: opensslOcsp, target: TARGETS.ocspFreshNewConnection })
    record({ id: 'ocsp-cached', what: `OCSP cached (no nonce), 16 in flight on kept connections, ${roundsText}`, kagi: cached.perSecond, ...perSecond, peer: opensslOcsp, target: TARGETS.ocspCached })
    record({ id: 'ocsp-fresh-last-seen', what: `OCSP fresh (nonce) with "last seen" counting vs without, alternating rounds, ${roundsText}`, kagi: fresh.perSecond, ...perSecond, peer: uncounted(freshUncounted.perSecond) })
    record({ id: 'ocsp-cached-last-seen', what: `OCSP cached with "last seen" counting vs without, alternating rounds, ${roundsText}`, kagi: cached.perSecond, ...perSecond, peer: uncounted(cachedUncounted.perSecond) })

    const workers = plan.workers
    if (databaseUrl && workers > 1) {
      // The same data and requests, served by a spawned `kagi serve` in KAGI_WORKERS processes (both cores).
      await kagi.close()
      kagi = undefined
      progress(`OCSP again on kagi serve with KAGI_WORKERS=${workers}: cached, fresh, fresh on new connections, openssl ocsp`)
      const cluster = await startClusterServer(databaseUrl, workers)
      try {
        const clusterUrl = `${cluster.origin}/ocsp`
        let c: LoadResult | undefined
        let f: LoadResult | undefined
        let n: LoadResult | undefined
        let p: LoadResult | undefined
        for (let round = 0; round < rounds; round++) {
          c = best(c, await ocspClient(clusterUrl, join(dataDir, 'cached.der'), ocspSeconds))
          f = best(f, await ocspClient(clusterUrl, join(dataDir, 'fresh.der'), ocspSeconds))
          n = best(n, await ocspClient(clusterUrl, join(dataDir, 'fresh.der'), ocspSeconds, { close: true }))
          p = best(p, await opensslOcspPeer(peerDir, ocspSeconds))
        }
        const peerAgain = { name: opensslOcsp.name, value: Math.max(p!.perSecond, peer.fresh.perSecond) }
        out.push(`OCSP with KAGI_WORKERS=${workers} (${roundsText}, alternating with the peer): cached ${c!.perSecond.toFixed(0)}/s, fresh ${f!.perSecond.toFixed(0)}/s, fresh on new connections ${n!.perSecond.toFixed(0)}/s; errors ${c!.errors + f!.errors + n!.errors}`)
        out.push(`  peer: openssl ocsp responder, the better of its two figures in this run: ${peerAgain.value.toFixed(0)}/s; ratios ${(c!.perSecond / peerAgain.value).toFixed(2)}, ${(f!.perSecond / peerAgain.value).toFixed(2)}, ${(n!.perSecond / peerAgain.value).toFixed(2)}`)
        const inProcesses = `kagi serve in ${workers} processes (KAGI_WORKERS)`
        record({ id: 'ocsp-fresh-workers', what: `OCSP fresh (nonce), 16 in flight on kept connections, ${inProcesses}, ${roundsText}`, kagi: f!.perSecond, ...perSecond, peer: peerAgain, target: TARGETS.ocspFresh })
        record({ id: 'ocsp-fresh-new-connection-workers', what: `OCSP fresh (nonce), a new connection per request, 16 in flight, ${inProcesses}, ${roundsText}`, kagi: n!.perSecond, ...perSecond, peer: peerAgain, target: TARGETS.ocspFreshNewConnection })
        record({ id: 'ocsp-cached-workers', what: `OCSP cached (no nonce), 16 in flight on kept connections, ${inProcesses}, ${roundsText}`, kagi: c!.perSecond, ...perSecond, peer: peerAgain, target: TARGETS.ocspCached })
      } finally {
        await cluster.stop()
      }
    }
  } finally {
    await kagi?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(peerDir, { recursive: true, force: true })
  }
  return out
}
