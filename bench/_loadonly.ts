import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { load } from '/work/main/bench/load.js'
x509.cryptoProvider.set(webcrypto as Crypto)
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
const csrs: string[] = []
for (let i = 0; i < 16; i++) {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair
  csrs.push((await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=b${i}`, keys, signingAlgorithm: alg })).toString('pem'))
}
const token = readFileSync('/tmp/prof/token', 'utf8').trim()
const r = await load({ url: 'http://127.0.0.1:3999/api/v1/certificates', method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: (i) => JSON.stringify({ profile: 'user', user: `u${i % 800}@example.com`, csr: csrs[i % 16] }), concurrency: 64, seconds: Number(process.env.S ?? 6), maxRequests: 1e6 })
console.log(r)
