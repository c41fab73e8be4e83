import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freshDatabase } from './fresh-database.js'
import { pemToDer } from '../ca/der.js'
import { MessageType } from '../ca/scep/index.js'
import { OID } from '../ca/oids.js'
import { createToken } from '../src/db/token-repository.js'
import { createRecordChallenge } from '../src/use-cases/scep-challenges.js'
import { csrFor, newRequester, pkiMessage } from '../test/support/scep-request.js'
import { startBenchKagi, type BenchKagi } from './bench-kagi.js'
import { runJsonClient } from './json-client.js'
import { plan } from './plan.js'
import { progress } from './progress.js'
import { record } from './results.js'
import type { LoadResult } from './load.js'

const IN_FLIGHT = 16
/** Requests sent, untimed, before each measurement (JIT, connection set-up, first database pages). */
const WARMUP = 24
/** A port inside scepserver's own network namespace, where nothing else listens. */
const PEER_PORT = 8290
const PEER_CHALLENGE = 's3cret'
const PEER_CA_PASS = 'capass'
/** Requesters (RSA-2048 keys with self-signed certificates) shared round-robin by the requests; each request has its own CSR and transactionID. */
const KEYS = plan.scep.requesters

type Requesters = Awaited<ReturnType<typeof newRequester>>[]

/** One file for the load client: each body as a 4-byte big-endian length and its DER. */
function writeBodies(path: string, bodies: readonly Buffer[]): void {
  writeFileSync(path, Buffer.concat(bodies.flatMap((body) => [Buffer.from(Uint32Array.of(body.length).buffer).reverse(), body])))
}

/** PKCSReqs (AES-256-CBC, SHA-256), one CSR each, encrypted to `recipient`, with the challenge `challengeFor(i)` gives. */
async function buildRequests(requesters: Requesters, recipient: Buffer, count: number, tag: string, challengeFor: (i: number) => Promise<string>): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const requester = requesters[i % requesters.length]!
    const csr = await csrFor(requester.cryptoKeys, `CN=scep-bench-${tag}-${i}`, { challenge: await challengeFor(i) })
    out.push(pkiMessage(requester, { messageType: MessageType.PKCSReq, recipient, content: csr, transactionId: `bench-${tag}-${i}`, cipherOid: OID.aes256Cbc, digest: 'sha256' }).der)
  }
  return out
}

/** Runs the shared SCEP load client (inside a network namespace when `prefix` says so). */
function scepClient(url: string, bodies: string, seconds: number, prefix: string[] = []): Promise<LoadResult & { warmupErrors: number }> {
  return runJsonClient('scep-client.ts', [url, bodies, String(seconds), String(IN_FLIGHT), String(WARMUP)], prefix)
}

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/**
 * scepserver's depot, made as test/scep/stand-in.test.ts makes it: `scepserver ca -init` would
 * leave out digitalSignature, and the depot wants the key as legacy-encrypted PEM (DEK-Info),
 * hence -capass.
 */
function peerDepot(dir: string): Buffer {
  const depot = join(dir, 'depot')
  mkdirSync(depot)
  sh('openssl', ['genrsa', '-out', 'ca-plain.key', '2048'], dir)
  sh('openssl', ['rsa', '-in', 'ca-plain.key', '-traditional', '-des3', '-passout', `pass:${PEER_CA_PASS}`, '-out', join(depot, 'ca.key')], dir)
  sh('openssl', ['req', '-x509', '-new', '-key', 'ca-plain.key', '-subj', '/O=bench/CN=Bench SCEP CA', '-days', '30', '-out', join(depot, 'ca.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign'], dir)
  return pemToDer(readFileSync(join(depot, 'ca.pem'), 'utf8'), 'CERTIFICATE')
}

/**
 * SCEP PKCSReq enrollments per second: kagi (one-time challenge per request, made beforehand)
 * next to micromdm's scepserver (Debian `scep`, file depot, static challenge), both driven by
 * bench/scep-client.ts with the same kind of pre-built requests. scepserver binds every
 * interface, so it runs with its load client in a network namespace of its own (`unshare -n`),
 * on that namespace's loopback. Debian's scepserver answers with single DES whatever the request
 * used, but it accepts AES-256 requests, so both get the same requests (AES-256-CBC, SHA-256).
 */
export async function benchScep(adminDatabaseUrl: string | undefined, seconds: number): Promise<string[]> {
  const out: string[] = []
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-bench-scep-'))
  const peerDir = mkdtempSync(join(tmpdir(), 'kagi-bench-scep-peer-'))
  // A database of its own on PostgreSQL; the embedded one in memory otherwise.
  const fresh = adminDatabaseUrl ? await freshDatabase(adminDatabaseUrl, 'bench_scep') : undefined
  const databaseUrl = fresh?.url
  let server: BenchKagi | undefined
  try {
    server = await startBenchKagi(dataDir, databaseUrl)
    const { database, services } = server
    const url = `${server.origin}/scep?operation=PKIOperation`
    const ra = (await services.scepRa.get()).certificate
    const token = await createToken(database.db, 'mdm', 'bench-scep')
    progress(`SCEP: ${KEYS} RSA-2048 requesters`)
    const requesters: Requesters = []
    for (let i = 0; i < KEYS; i++) requesters.push(await newRequester(2048, `scep-bench-${i}`))

    // kagi: a one-time challenge per request, as an MDM would fetch them (POST /api/v1/scep/challenges does the same).
    const kagiCount = WARMUP + Math.ceil(seconds * 60)
    progress(`SCEP: ${kagiCount} challenges and PKCSReqs for kagi`)
    const kagiBodies = await buildRequests(requesters, ra, kagiCount, 'kagi', async (i) =>
      (await createRecordChallenge(services, { user: `scep-bench-${i}@example.com`, profile: 'user' }, { tokenId: token.id, label: 'bench' })).challenge,
    )
    writeBodies(join(dataDir, 'kagi.bodies'), kagiBodies)
    progress(`SCEP: kagi for up to ${seconds} s`)
    const kagi = await scepClient(url, join(dataDir, 'kagi.bodies'), seconds)
    const issued = (await database.db.selectFrom('certificate').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n

    // The peer: static challenge, so its CSRs are cheaper to make; as many requests as it can take in the time.
    const peerCa = peerDepot(peerDir)
    const peerCount = WARMUP + Math.ceil(seconds * plan.scep.peerPerSecond)
    progress(`SCEP: ${peerCount} PKCSReqs for scepserver`)
    writeBodies(join(peerDir, 'peer.bodies'), await buildRequests(requesters, peerCa, peerCount, 'peer', async () => PEER_CHALLENGE))
    progress(`SCEP: micromdm scepserver for up to ${seconds} s`)
    // scepserver is stopped by pid when the client is done, whatever the client's outcome; it gets 5 s to listen.
    const script = [
      'ip link set lo up',
      `{ scepserver -depot depot -port ${PEER_PORT} -capass ${PEER_CA_PASS} -challenge ${PEER_CHALLENGE} -allowrenew 0 >scepserver.log 2>&1 & }`,
      'p=$!',
      `for i in $(seq 50); do (: </dev/tcp/127.0.0.1/${PEER_PORT}) 2>/dev/null && break; sleep 0.1; done`,
      '"$@"; s=$?; kill $p; exit $s',
    ].join('; ')
    const peer = await scepClient(`http://127.0.0.1:${PEER_PORT}/scep?operation=PKIOperation`, join(peerDir, 'peer.bodies'), seconds, ['unshare', '-n', '--kill-child', 'bash', '-c', `cd ${peerDir} && ${script}`, 'bash'])
    const peerLog = (() => {
      try {
        return readFileSync(join(peerDir, 'scepserver.log'), 'utf8')
      } catch {
        return ''
      }
    })()
    const version = spawnSync('scepserver', ['-version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? ''

    out.push(`SCEP PKCSReq enrollments (RSA-2048 requesters, AES-256-CBC + SHA-256, HTTP POST, ${IN_FLIGHT} in flight): kagi ${kagi.perSecond.toFixed(1)}/s, p50 ${kagi.p50ms.toFixed(0)} ms, p99 ${kagi.p99ms.toFixed(0)} ms over ${kagi.requests} requests, ${kagi.errors} errors${kagi.firstError ? ` (${kagi.firstError})` : ''}; ${issued} certificates stored`)
    out.push(`  peer: micromdm scepserver ${version} (file depot, static challenge; replies single DES): ${peer.perSecond.toFixed(1)}/s, p50 ${peer.p50ms.toFixed(0)} ms over ${peer.requests} requests, ${peer.errors} errors${peer.firstError ? ` (${peer.firstError}; scepserver.log: ${peerLog.split('\n').find((line) => /err=(?!null)|level=error/.test(line))?.slice(0, 300) ?? '(nothing)'})` : ''}; ratio kagi/scepserver ${(kagi.perSecond / peer.perSecond).toFixed(2)}`)
    record({
      id: 'scep-enrollments',
      what: `SCEP PKCSReq enrollments, RSA-2048 requesters, AES-256-CBC + SHA-256, ${IN_FLIGHT} in flight, a one-time challenge each (kagi) / a static one (peer)`,
      kagi: kagi.perSecond,
      unit: 'enrollments/s',
      better: 'higher',
      peer: { name: `micromdm scepserver ${version} (file depot, static challenge)`, value: peer.perSecond },
    })
  } finally {
    await server?.close()
    await fresh?.drop()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(peerDir, { recursive: true, force: true })
  }
  return out
}
