import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runJsonClient } from './json-client.js'
import type { LoadResult } from './load.js'

/**
 * The openssl peers of the revocation phase: a small openssl PKI (P-256,
 * like kagi's default) whose index holds N revoked entries, `openssl ca
 * -gencrl` over it, and `openssl ocsp` as a responder, loaded by the same
 * OCSP client (bench/ocsp-client.ts) as kagi.
 */

export function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** Runs the shared OCSP load client against `url` (16 in flight; inside a network namespace when `prefix` says so). */
export function ocspClient(url: string, request: string, seconds: number, options: { close?: boolean; prefix?: string[] } = {}): Promise<LoadResult> {
  return runJsonClient<LoadResult>('ocsp-client.ts', [url, request, String(seconds), '16', ...(options.close ? ['close'] : [])], options.prefix)
}

/** A small openssl PKI (P-256, like kagi's default) with N revoked entries in its index, for the peers. */
export function opensslPki(dir: string, revoked: number): void {
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

/** Milliseconds for `openssl ca -gencrl` over a fresh PKI in `dir` with `revoked` entries (the PKI is remade first, untimed). */
export function opensslGencrlMs(dir: string, revoked: number): number {
  opensslPki(dir, revoked)
  const t0 = performance.now()
  sh('openssl', ['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-out', 'peer.crl'], dir)
  return performance.now() - t0
}

/**
 * `openssl ocsp` as a responder (fresh answers, with the request's nonce) over the PKI in `dir`, loaded by
 * the shared client for `seconds`. It runs in a network namespace of its own (`unshare -n`) because it
 * can only bind all interfaces; the client runs in that namespace too, on its loopback. `close`: the client
 * asks for a new connection per request, which openssl gives anyway (it closes after every answer).
 */
export async function opensslOcspPeer(dir: string, seconds: number, options: { close?: boolean } = {}): Promise<LoadResult> {
  sh('openssl', ['ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-nonce', '-reqout', 'req.der'], dir)
  // The responder is stopped by pid when the client is done, whatever the client's outcome.
  const script = `ip link set lo up && { openssl ocsp -port 8899 -index index.txt -CA ca.pem -rsigner ocsp.pem -rkey ocsp.key -nmin 60 >/dev/null 2>&1 & } ; p=$!; sleep 0.5; "$@"; s=$?; kill $p; exit $s`
  return ocspClient('http://127.0.0.1:8899/', join(dir, 'req.der'), seconds, { close: options.close, prefix: ['unshare', '-n', '--kill-child', 'sh', '-c', `cd ${dir} && ${script}`, 'sh'] })
}
