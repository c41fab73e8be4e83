/** Shared set-up for the PAN-OS tests: a CA from ca/ (no database), a configuration, a recording printer. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHierarchy, derToPem } from '../../ca/index.js'
import { panosTimingDefaults, type PanosConfig } from '../../src/panos/config.js'
import type { PushSource } from '../../src/panos/desired-state.js'
import { PanosError } from '../../src/panos/errors.js'
import { pushToPanos, type PushReport } from '../../src/panos/push.js'
import { runKagiAsync } from '../support/kagi-process.js'
import { run } from '../support/openssl.js'
import type { FakePanos } from './fake-panos.js'

/** kagi's root and issuing CA, created in memory once per test file, and kagi's URLs at https://kagi.example.com. */
export async function testSource(ocspUrl = 'https://kagi.example.com/ocsp'): Promise<PushSource> {
  const { root, issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: 'https://kagi.example.com' })
  return {
    rootPem: derToPem(root.certificate.der, 'CERTIFICATE'),
    issuingPem: derToPem(issuing.certificate.der, 'CERTIFICATE'),
    ocspUrl,
    scepUrl: 'https://kagi.example.com/scep',
    scepChallengeUrl: 'https://kagi.example.com/certsrv/mscep_admin/',
  }
}

/** A configuration for the double: API key auth, its portal and gateway, short timings. */
export function configFor(fake: FakePanos, apiKey: string, overrides: Partial<PanosConfig> = {}): PanosConfig {
  return {
    url: fake.url,
    auth: { apiKey },
    certProfile: 'kagi-devices',
    portal: 'gp-portal',
    gateway: 'gp-gateway',
    vsys: 'vsys1',
    usernameField: 'subject-alt:email',
    ...panosTimingDefaults,
    requestTimeoutMs: 3_000,
    commitTimeoutMs: 5_000,
    pollIntervalMs: 5,
    ...overrides,
  }
}

/** The outcome of one push: its report or its error, and everything it printed. */
export interface Outcome {
  report?: PushReport
  error?: PanosError
  out: string[]
  info: string[]
  /** Everything printed and the error message, for secret checks. */
  all: string
}

/** Runs a push and captures its output; a non-PanosError is rethrown (a bug, not an outcome). */
export async function push(source: PushSource, config: PanosConfig, dryRun = false, rotateScepToken = false): Promise<Outcome> {
  const out: string[] = []
  const info: string[] = []
  const outcome: Outcome = { out, info, all: '' }
  try {
    outcome.report = await pushToPanos(source, config, { dryRun, rotateScepToken, print: { out: (l) => out.push(l), info: (l) => info.push(l) } })
  } catch (error) {
    if (!(error instanceof PanosError)) throw error
    outcome.error = error
  }
  outcome.all = [...out, ...info, outcome.error?.message ?? '', ...(outcome.error?.lines ?? [])].join('\n')
  return outcome
}

/** A self-signed certificate for 127.0.0.1, made by openssl, for the https double. */
export function selfSignedTls(dir: string): { key: string; cert: string } {
  const r = run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', `${dir}/tls.key`, '-out', `${dir}/tls.crt`,
  ])
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`)
  return { key: readFileSync(`${dir}/tls.key`, 'utf8'), cert: readFileSync(`${dir}/tls.crt`, 'utf8') }
}

/** Runs the real CLI without blocking the event loop (the double answers from this process). */
export const runKagi = (args: string[], env: Record<string, string>) => runKagiAsync(env, args, { timeoutMs: 60_000 })
