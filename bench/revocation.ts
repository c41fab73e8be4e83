import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { generateKey, spkiOf } from '../ca/index.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { revoke } from '../src/use-cases/revoke.js'
import { revokeCertificate } from '../src/db/revocation-repository.js'
import { enroll } from '../src/use-cases/enroll.js'
import { startBenchKagi, type BenchKagi } from './bench-kagi.js'
import { runJsonClient } from './json-client.js'
import { progress } from './progress.js'
import type { LoadResult } from './load.js'


function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Runs the shared load client against `url` (inside a network namespace when `netns` is given). */
function ocspClient(url: string, request: string, seconds: number, prefix: string[] = []): Promise<LoadResult> {
  return runJsonClient<LoadResult>('ocsp-client.ts', [url, request, String(seconds), '16'], prefix)
}

/** A small openssl PKI (P-256, like kagi's default) with N revoked entries in its index, for the peers. */
function opensslPki(dir: string, revoked: number): void {
  writeFileSync(join(dir, 'ca.cnf'), `[ca]\ndefault_ca=d\n[d]\ndatabase=${dir}/index.txt\ndefault_md=sha256\ndefault_crl_days=1\ncrlnumber=${dir}/crlnumber\n[req]\ndistinguished_name=dn\n[dn]\n[ocsp]\nextendedKeyUsage=OCSPSigning\nnoCheck=ignored\n`)
  sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=Peer CA', '-days', '30', '-config', 'ca.cnf'], dir)
  sh('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ocsp.key', '-out', 'ocsp.csr', '-subj', '/CN=Peer OCSP', '-config', 'ca.cnf'], dir)
  sh('openssl', ['x509', '-req', '-in', 'ocsp.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'ocsp.pem', '-days', '7', '-extfile', 'ca.cnf', '-extensions', 'ocsp'], dir)
  sh('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf', '-config', 'ca.cnf'], dir)
  sh('openssl', ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x1001', '-out', 'leaf.pem', '-days', '7'], dir)
  const lines = ['V\t301231235959Z\t\t1001\tunknown\t/CN=leaf']
  for (let i = 0; i < revoked; i++) lines.push(`R\t301231235959Z\t240101000000Z,keyCompromise\t${(0x100000 + i).toString(16).toUpperCase()}\tunknown\t/CN=r${i}`)
  writeFileSync(join(dir, 'index.txt'), `${lines.join('\n')}\n`)
  writeFileSync(join(dir, 'crlnumber'), '01\n')
}

/** `openssl ocsp` as a responder, in a network namespace of its own so that it binds only that namespace's loopback. */
async function opensslOcspPeer(dir: string, seconds: number): Promise<{ fresh: LoadResult }> {
  sh('openssl', ['ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-nonce', '-reqout', 'req.der'], dir)
  // The responder is stopped by pid when the client is done, whatever the client's outcome.
  const script = `ip link set lo up && { openssl ocsp -port 8899 -index index.txt -CA ca.pem -rsigner ocsp.pem -rkey ocsp.key -nmin 60 >/dev/null 2>&1 & } ; p=$!; sleep 0.5; "$@"; s=$?; kill $p; exit $s`
  const result = await ocspClient('http://127.0.0.1:8899/', join(dir, 'req.der'), seconds, ['unshare', '-n', '--kill-child', 'sh', '-c', `cd ${dir} && ${script}`, 'sh'])
  return { fresh: result }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}

/**
 * Revocation benchmarks: OCSP (cached and fresh) against `openssl ocsp`, CRL
 * signing at 10,000 and 100,000 entries against `openssl ca -gencrl`, and
 * revocation latency with 100,000 revoked certificates in the database.
 */
export async function benchRevocation(databaseUrl: string | undefined, seconds: number): Promise<string[]> {
  const out: string[] = []
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
    const opensslCrl = (n: number): number => {
      opensslPki(peerDir, n)
      const t0 = performance.now()
      sh('openssl', ['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-out', 'peer.crl'], peerDir)
      return performance.now() - t0
    }
    progress('CRL with 10,000 revoked entries')
    await addRevoked(0, 10_000)
    const crl10k = await timeCrl()
    const peer10k = opensslCrl(10_000)
    progress('CRL with 100,000 revoked entries')
    await addRevoked(10_000, 90_000)
    const crl100k = await timeCrl()
    const incremental100k = await timeCrlAfterRevocation()
    const peer100k = opensslCrl(100_000)
    const crlBytes = (await services.crl.issuing.get())!.der.length
    const crlEntries = (await services.crl.issuing.get())!.entries
    out.push(`CRL after a revocation with 100,000 entries (revocation + append its row + assemble + sign + store): ${incremental100k.toFixed(0)} ms (median of 5; ${crlEntries} entries, ${(crlBytes / 1e6).toFixed(1)} MB)`)
    out.push(`CRL with a full read (query + encode + sign + store; at start and each re-signing interval): 10,000 entries ${crl10k.toFixed(0)} ms, 100,000 entries ${crl100k.toFixed(0)} ms`)
    out.push(`  peer: openssl ca -gencrl: 10,000 ${peer10k.toFixed(0)} ms, 100,000 ${peer100k.toFixed(0)} ms; ratio kagi/openssl after a revocation ${(incremental100k / peer100k).toFixed(2)}, full read ${(crl10k / peer10k).toFixed(2)} and ${(crl100k / peer100k).toFixed(2)} (lower is faster)`)

    progress('revocation latency with 100,000 revoked')
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
    out.push(`revocation with 100,000 revoked (transaction + audit + OCSP invalidation; CRL re-signed in the background): p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms over ${latencies.length}`)
    out.push(`  peer: the transaction alone, interleaved (no CRL, no OCSP invalidation${databaseUrl ? '; other replicas would still hear its NOTIFY, and this one does' : ''}): p50 ${percentile(bare, 0.5).toFixed(1)} ms, p99 ${percentile(bare, 0.99).toFixed(1)} ms`)

    progress(`OCSP for ${seconds} s each: kagi cached, kagi fresh (nonce), both without last-seen counting, openssl ocsp`)
    writeFileSync(join(dataDir, 'leaf.pem'), leaf.certificatePem)
    writeFileSync(join(dataDir, 'issuing.der'), services.ca.issuing.der)
    sh('openssl', ['x509', '-inform', 'DER', '-in', 'issuing.der', '-out', 'issuing.pem'], dataDir)
    sh('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'leaf.pem', '-no_nonce', '-reqout', 'cached.der'], dataDir)
    sh('openssl', ['ocsp', '-issuer', 'issuing.pem', '-cert', 'leaf.pem', '-nonce', '-reqout', 'fresh.der'], dataDir)
    // "Last seen by the VPN" counts every request; the same load without it (KAGI_OCSP_LAST_SEEN=false), in
    // alternating rounds so that warm-up and the CRL work left from the phase above fall on both alike; best of two.
    const best = (a: LoadResult, b: LoadResult): LoadResult => (a.perSecond >= b.perSecond ? a : b)
    const measured: Record<'counted' | 'uncounted', { cached?: LoadResult; fresh?: LoadResult }> = { counted: {}, uncounted: {} }
    for (let round = 0; round < 2; round++) {
      for (const mode of ['counted', 'uncounted'] as const) {
        services.ocspChecks.enabled = mode === 'counted'
        const c = await ocspClient(url, join(dataDir, 'cached.der'), seconds)
        const f = await ocspClient(url, join(dataDir, 'fresh.der'), seconds)
        const before = measured[mode]
        measured[mode] = { cached: before.cached ? best(before.cached, c) : c, fresh: before.fresh ? best(before.fresh, f) : f }
      }
    }
    services.ocspChecks.enabled = true
    const cached = measured.counted.cached!
    const fresh = measured.counted.fresh!
    const cachedUncounted = measured.uncounted.cached!
    const freshUncounted = measured.uncounted.fresh!
    opensslPki(peerDir, 0)
    const peer = await opensslOcspPeer(peerDir, seconds)
    out.push(`OCSP responses/s (16 in flight, best of two rounds): kagi cached ${cached.perSecond.toFixed(0)}, kagi fresh with nonce ${fresh.perSecond.toFixed(0)}; errors ${cached.errors + fresh.errors}`)
    out.push(`  without "last seen" counting: cached ${cachedUncounted.perSecond.toFixed(0)}, fresh ${freshUncounted.perSecond.toFixed(0)} (with/without: ${(cached.perSecond / cachedUncounted.perSecond).toFixed(2)} and ${(fresh.perSecond / freshUncounted.perSecond).toFixed(2)})`)
    out.push(`  peer: openssl ocsp responder (fresh, nonce): ${peer.fresh.perSecond.toFixed(0)}/s; ratio kagi fresh/openssl ${(fresh.perSecond / peer.fresh.perSecond).toFixed(2)}, cached/openssl ${(cached.perSecond / peer.fresh.perSecond).toFixed(2)}${peer.fresh.errors ? `; peer errors ${peer.fresh.errors} (${peer.fresh.firstError})` : ''}`)
  } finally {
    await kagi?.close()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(peerDir, { recursive: true, force: true })
  }
  return out
}
