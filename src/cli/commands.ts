import { writeFileSync } from 'node:fs'
import { derToPem, revocationReasons, serialToHex } from '../../ca/index.js'
import { parseRevokeRequest, revoke } from '../use-cases/revoke.js'
import { importIssuingCa, initCa, loadCa, subjectText, type LoadedCa } from '../startup/ca-loader.js'
import { createToken, listTokens, revokeToken, type TokenRole } from '../db/token-repository.js'
import { runtimeServices, type Runtime } from '../startup/runtime.js'
import { createAuditHeadSigner } from '../use-cases/audit-heads.js'
import { withRuntime, type Flags, type ListedCommand } from './command.js'
import { info, out, UsageError } from './output.js'
import { panosCommands } from './panos-command.js'
import { auditCommands } from './audit-command.js'
import { secretCommands } from './secret-command.js'
import { setPublicUrlCommand } from './public-url-command.js'
import { doctorCommand } from './doctor-command.js'
import { createHash } from 'node:crypto'
import { bundleFlags, issueBody } from '../schemas/enrollment.js'
import { parseOrBadRequest } from '../schemas/parse.js'
import type { z } from 'zod'
import { ApiError } from '../errors.js'
import { deviceByIdOrSerial, enroll, issueEnrollment, type EnrollRequest } from '../use-cases/enroll.js'
import type { KagiServices } from '../startup/services.js'
import { assertWritable, readInput } from './files.js'
import { emailField } from '../schemas/identity.js'
import { endSessionsOfUser, rotateSessionKey } from '../use-cases/sessions.js'
import { resolveDeviceRef, revokeDevice, revokeUser } from '../use-cases/offboard.js'
import { revokeDeviceBody, revokeUserBody } from '../schemas/admin.js'
import { platformNames, withArticle } from './wording.js'

export type { Flags } from './command.js'

function need(flags: Flags, name: string, hint: string): string {
  const value = flags[name]
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required (${hint})`)
  return value
}

/** The CLI acts as an administrator (it holds the CA passphrase): it may reassign a host name. */
const cliActor: EnrollRequest['actor'] = { label: 'cli', role: 'admin' }

/** Flags through an input schema: a refused value is a usage error (exit 2), before anything is opened or issued. */
function parseFlags<T>(schema: z.ZodType<T>, input: unknown): T {
  try {
    return parseOrBadRequest(schema, input)
  } catch (error) {
    if (error instanceof ApiError) throw new UsageError(error.message)
    throw error
  }
}

/**
 * Writes what an issuance produced; if that fails after all (the disk filled
 * up since --out was checked), the new certificate is revoked: its key
 * existed only in this process, so no one could ever use it.
 */
async function writeOrRevoke(services: KagiServices, serial: string, write: () => void): Promise<void> {
  try {
    write()
  } catch (error) {
    await revoke(services, serial, 'cessationOfOperation', 'cli')
    throw new Error(`could not write the output (${(error as NodeJS.ErrnoException).code ?? error}); certificate ${serial} was revoked, since its key is lost`)
  }
}

/** Signs the audit log's head (after a CA change: `kagi serve` would do it at start, the CLI may run before). */
async function signAuditHead(runtime: Runtime, ca: LoadedCa): Promise<void> {
  // The CA the caller just created or imported: loading it again would decrypt its key a second time.
  // Loaded on demand, as runtime.ts does: `kagi serve` should not wait for these modules.
  const { createServices } = await import('../startup/services.js')
  const services = createServices(runtime.config, runtime.database.db, ca, { passphrase: runtime.passphrase.value })
  await createAuditHeadSigner(services, runtime.passphrase.value).signNow()
}

/** A string flag, or undefined (a flag given without a value is `true`). */
const text = (flags: Flags, name: string): string | undefined => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined)

const fingerprint = (der: Buffer): string => createHash('sha256').update(der).digest('hex').match(/../g)!.join(':').toUpperCase()

/** The commands, by name. Each returns the process exit code. */
export const commands: Record<string, ListedCommand> = {
  serve: {
    summary: 'run the HTTP service (creates the CA on first start)',
    usage: 'kagi serve',
    options: {},
    example: 'PORT=3000 kagi serve',
    notInServer: () => 'kagi serve is already running on this data directory',
    run: async (config) => {
      // Loaded on demand: the server's modules load while the embedded database opens.
      const { serve } = await import('../server.js')
      await serve(config)
      return -1 // keep running
    },
  },
  migrate: {
    summary: 'apply pending database migrations',
    usage: 'kagi migrate',
    options: {},
    example: 'DATABASE_URL=postgres://kagi@db/kagi kagi migrate',
    notInServer: () => 'the running kagi serve applied every pending migration when it started; there is nothing to apply while it runs',
    run: (config) =>
      withRuntime(config, 'kagi migrate', async (runtime) => {
        for (const m of runtime.migrations) out(`${m.status === 'Success' ? 'applied' : m.status}: ${m.name}`)
        out(runtime.migrations.length ? 'migrations complete' : 'database schema is up to date')
        return 0
      }),
  },
  'ca init': {
    summary: 'create the root and issuing CA (no-op when they exist, unless --force)',
    usage: 'kagi ca init [--force]',
    options: { force: { help: 'replace an existing CA (the certificates it issued no longer chain to the new one)' } },
    example: 'kagi ca init',
    notInServer: (flags) => (flags.force ? 'stop kagi serve first: --force replaces the CA the running server has loaded' : undefined),
    run: (config, _args, flags) =>
      withRuntime(config, 'kagi ca init', async (runtime) => {
        info(`creating ${config.caKeyType} root and issuing CA "${config.caName}" (keys encrypted with PBKDF2, this takes a moment)...`)
        const { created, ca } = await initCa(runtime.database.db, runtime.config, runtime.passphrase.value, { force: flags.force === true, actor: 'cli' })
        out(created ? 'CA created' : 'CA already exists (use --force to replace it; certificates it issued would no longer chain to the new CA)')
        // The CA's creation is audited; signing the head now protects the log from its first events.
        if (created) await signAuditHead(runtime, ca)
        out(`root:    ${await subjectText(ca.root.der)}  SHA-256 ${fingerprint(ca.root.der)}`)
        out(`issuing: ${await subjectText(ca.issuing.der)}  SHA-256 ${fingerprint(ca.issuing.der)}`)
        return created || !flags.force ? 0 : 1
      }),
  },
  'ca show': {
    summary: 'print the active CA certificates (add --pem for the chain)',
    usage: 'kagi ca show [--pem]',
    options: { pem: { help: 'also print the issuing and root certificates as PEM (the chain to install)' } },
    example: 'kagi ca show --pem > kagi-chain.pem',
    run: (config, _args, flags) =>
      withRuntime(config, 'kagi ca show', async (runtime) => {
        const ca = await loadCa(runtime.database.db, runtime.passphrase.value)
        if (!ca) {
          out('no CA yet: run `kagi ca init` or start `kagi serve`')
          return 1
        }
        for (const [role, cert] of [['root', ca.root], ['issuing', ca.issuing]] as const) {
          out(`${role}:`)
          out(`  subject:     ${await subjectText(cert.der)}`)
          out(`  serial:      ${serialToHex(cert.serial)}`)
          out(`  valid:       ${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()}`)
          out(`  SHA-256:     ${fingerprint(cert.der)}`)
          out(`  pathLen:     ${cert.pathLength ?? 'none'}`)
        }
        out(`key type:      ${ca.keyType}`)
        const { publicUrl } = runtime.config
        out(`public URL:    ${publicUrl} (stored with the CA; CRL ${publicUrl}/pki/crl, OCSP ${publicUrl}/ocsp; change it with kagi ca set-public-url)`)
        if (flags.pem) out((derToPem(ca.issuing.der, 'CERTIFICATE') + derToPem(ca.root.der, 'CERTIFICATE')).trimEnd())
        return 0
      }),
  },
  'ca import': {
    summary: 'adopt an existing issuing CA (certificate chain + key)',
    usage: 'kagi ca import --cert ISSUING_AND_CHAIN.pem --key KEY.pem [--key-passphrase-file F] [--root ROOT.pem]',
    options: {
      cert: { value: 'FILE', file: true, help: 'the issuing CA certificate in PEM, followed by the certificates up to its root' },
      key: { value: 'FILE', file: true, help: "the issuing CA's private key in PEM (PKCS#8, encrypted or not)" },
      'key-passphrase-file': { value: 'FILE', file: true, help: 'a file holding the passphrase of an encrypted --key' },
      root: { value: 'FILE', file: true, help: 'the root certificate in PEM, when --cert does not end with it' },
    },
    example: 'kagi ca import --cert issuing-and-root.pem --key issuing.key',
    notInServer: () => 'stop kagi serve first: the running server keeps the CA it loaded at start, which this command replaces',
    run: (config, _args, flags) => {
      const certPem = readInput(need(flags, 'cert', 'PEM issuing CA certificate, followed by its root'), 'certificate')
      const keyPem = readInput(need(flags, 'key', 'PEM private key of the issuing CA'), 'key')
      const keyPassphrase = typeof flags['key-passphrase-file'] === 'string' ? readInput(flags['key-passphrase-file'], 'key passphrase').replace(/\r?\n$/, '') : undefined
      const rootPem = typeof flags.root === 'string' ? readInput(flags.root, 'root certificate') : undefined
      return withRuntime(config, 'kagi ca import', async (runtime) => {
        info('checking the certificate chain and key, re-encrypting the key...')
        const ca = await importIssuingCa(runtime.database.db, runtime.passphrase.value, { certPem, keyPem, keyPassphrase, rootPem }, runtime.config.publicUrl)
        await signAuditHead(runtime, ca)
        out(`imported issuing CA: ${await subjectText(ca.issuing.der)} (root ${await subjectText(ca.root.der)})`)
        return 0
      })
    },
  },
  'ca set-public-url': setPublicUrlCommand,
  'token create': {
    summary: 'create an API token (printed once, as the last line)',
    usage: 'kagi token create --role admin|mdm --name NAME [--replace]',
    options: {
      role: { value: 'admin|mdm', help: 'what the token may call: admin (the whole API) or mdm (issuing and the MDM profile routes)' },
      name: { value: 'NAME', help: 'who or what uses the token, e.g. jamf (at most 100 characters, unique among live tokens)' },
      replace: { help: 'revoke the live token of that name instead of refusing to create a second one' },
    },
    example: 'TOKEN=$(kagi token create --role mdm --name jamf | tail -n1)',
    run: (config, _args, flags) => {
      const role = need(flags, 'role', 'admin or mdm')
      if (role !== 'admin' && role !== 'mdm') throw new UsageError('--role must be admin or mdm')
      const name = need(flags, 'name', 'who or what uses the token, e.g. jamf')
      if (name.length > 100) throw new UsageError('--name must be at most 100 characters')
      return withRuntime(config, 'kagi token create', async (runtime) => {
        const db = runtime.database.db
        const { id, token, replaced } = await createToken(db, role as TokenRole, name, { replace: flags.replace === true })
        if (replaced) await db.insertInto('audit_event').values({ actor: 'cli', action: 'token.revoked', serial: null, details: JSON.stringify({ idOrName: name, revoked: replaced, replacedBy: id }) }).execute()
        await db.insertInto('audit_event').values({ actor: 'cli', action: 'token.created', serial: null, details: JSON.stringify({ id, name, role }) }).execute()
        if (replaced) info(`revoked ${replaced} live token${replaced === 1 ? '' : 's'} named "${name}"`)
        info(`created ${role} token "${name}" (id ${id}); it is shown only now:`)
        out(token)
        return 0
      })
    },
  },
  'token list': {
    summary: 'list API tokens (never their values)',
    usage: 'kagi token list',
    options: {},
    example: 'kagi token list',
    run: (config) =>
      withRuntime(config, 'kagi token list', async (runtime) => {
        for (const t of await listTokens(runtime.database.db)) {
          out(`${t.id}  ${t.role.padEnd(5)}  ${t.name}  created ${new Date(t.created_at).toISOString()}${t.revoked_at ? `  revoked ${new Date(t.revoked_at).toISOString()}` : ''}`)
        }
        return 0
      }),
  },
  'token revoke': {
    summary: 'revoke an API token by id or name',
    usage: 'kagi token revoke ID|NAME',
    options: {},
    argument: { name: 'ID|NAME', help: "the token's id, or a name (every live token of that name is revoked)" },
    example: 'kagi token revoke jamf',
    run: (config, args) => {
      const target = args[0]
      if (!target) throw new UsageError('give the token id or name')
      return withRuntime(config, 'kagi token revoke', async (runtime) => {
        const n = await revokeToken(runtime.database.db, target)
        if (n) await runtime.database.db.insertInto('audit_event').values({ actor: 'cli', action: 'token.revoked', serial: null, details: JSON.stringify({ idOrName: target, revoked: n }) }).execute()
        out(n ? `revoked ${n} token${n === 1 ? '' : 's'}` : `no live token with id or name ${target}`)
        return n ? 0 : 1
      })
    },
  },
  'session rotate-key': {
    summary: 'replace the session cookie key and end every session',
    usage: 'kagi session rotate-key',
    options: {},
    example: 'kagi session rotate-key',
    run: (config) =>
      withRuntime(config, 'kagi session rotate-key', async (runtime) => {
        // Loading the CA proves the passphrase: a key encrypted under a wrong one would lock every server out.
        const services = await runtimeServices(runtime, { create: false })
        if (!services) throw new UsageError('no CA yet: start kagi once (or run kagi ca init) before rotating the session key')
        if (config.sessionSecret) info('the cookie key comes from KAGI_SESSION_SECRET: change it there and restart every server to replace it')
        else info('encrypting a new session key with the CA passphrase (PBKDF2, 600,000 iterations)…')
        const { keyId, ended } = await rotateSessionKey(services, runtime.passphrase.value, 'cli')
        if (keyId) out(`session key ${keyId} is in use; running servers switch to it within 15 seconds`)
        out(`ended ${ended} open session${ended === 1 ? '' : 's'}: everyone signs in again`)
        return 0
      }),
  },
  'session end': {
    summary: "end every session of one user (they must sign in again)",
    usage: 'kagi session end EMAIL',
    options: {},
    argument: { name: 'EMAIL', help: 'the user whose sessions end' },
    example: 'kagi session end alice@example.com',
    run: (config, args) => {
      const email = parseFlags(emailField('EMAIL'), args[0] ?? '')
      return withRuntime(config, 'kagi session end', async (runtime) => {
        const services = await runtimeServices(runtime, { create: false })
        if (!services) throw new UsageError('no CA yet: there are no sessions')
        const ended = await endSessionsOfUser(services, email, 'cli')
        out(`ended ${ended} open session${ended === 1 ? '' : 's'} of ${email}`)
        return 0
      })
    },
  },
  revoke: {
    summary: "revoke a certificate, or every active certificate of a device or a user (the CRL is re-signed before the command ends)",
    usage: 'kagi revoke SERIAL | --device ID|SERIAL_NUMBER | --user EMAIL [--reason REASON]',
    options: {
      device: { value: 'ID|SERIAL_NUMBER', help: "revoke every active certificate of this device (kagi's device id or its hardware serial number)" },
      user: { value: 'EMAIL', help: 'revoke every active certificate of this user and end their sessions' },
      reason: { value: 'REASON', help: `why: ${revocationReasons.join(', ')} (default unspecified; keyCompromise with --device, affiliationChanged with --user)` },
    },
    argument: { name: 'SERIAL', help: "the certificate's serial number in hexadecimal, as `kagi issue` prints it" },
    example: 'kagi revoke --device C02XK1JZJGH5 --reason keyCompromise',
    run: (config, args, flags) => {
      const serial = args[0]
      const device = text(flags, 'device')
      const user = text(flags, 'user')
      if ([serial, device, user].filter((v) => v !== undefined).length !== 1) throw new UsageError('give one of: the certificate serial (hex), --device ID|SERIAL_NUMBER, --user EMAIL')
      const reasonFlag = { reason: typeof flags.reason === 'string' ? flags.reason : undefined }
      const reason = device !== undefined ? parseFlags(revokeDeviceBody, reasonFlag).reason : user !== undefined ? parseFlags(revokeUserBody, reasonFlag).reason : parseRevokeRequest(reasonFlag)
      const email = user !== undefined ? parseFlags(emailField('--user'), user) : undefined
      return withRuntime(config, 'kagi revoke', async (runtime) => {
        const services = await runtimeServices(runtime, { create: false })
        if (!services) throw new UsageError('no CA yet: nothing to revoke')
        await services.start()
        try {
          if (serial === undefined) {
            const revoked = email !== undefined ? await revokeUser(services, email, reason, 'cli') : await revokeDevice(services, await resolveDeviceRef(services, device!), reason, 'cli')
            await services.crl.issuing.regenerate()
            for (const s of revoked) out(s)
            const what = email !== undefined ? `of ${email} (their sessions ended)` : `of device ${device}`
            out(`revoked ${revoked.length} certificate${revoked.length === 1 ? '' : 's'} ${what} (${reason})${revoked.length ? '; CRL re-signed' : ''}`)
            return 0
          }
          const result = await revoke(services, serial, reason, 'cli')
          await services.crl.issuing.regenerate()
          out(
            result.alreadyRevoked
              ? `${result.serial} was already revoked on ${result.revokedAt.toISOString()} (${result.reason}); unchanged`
              : `revoked ${result.serial} (${result.reason}) at ${result.revokedAt.toISOString()}; CRL re-signed`,
          )
          return 0
        } finally {
          await services.stop()
        }
      })
    },
  },
  crl: {
    summary: 'print the current CRL as PEM (`kagi crl root` for the root CA; --der FILE writes DER)',
    usage: 'kagi crl [root] [--der FILE]',
    options: { der: { value: 'FILE', file: true, help: 'write the CRL as DER to FILE instead of printing it as PEM' } },
    argument: { name: 'root', help: "the root CA's CRL instead of the issuing CA's", choices: ['root'] },
    example: 'kagi crl --der issuing.crl',
    run: (config, args, flags) =>
      withRuntime(config, 'kagi crl', async (runtime) => {
        const services = await runtimeServices(runtime, { create: false })
        if (!services) throw new UsageError('no CA yet')
        await services.start()
        try {
          const crl = await (args[0] === 'root' ? services.crl.root : services.crl.issuing).get()
          if (!crl) throw new UsageError('no CRL for this CA (kagi does not hold its key)')
          info(`CRL number ${crl.crlNumber}, ${crl.entries} ${crl.entries === 1 ? 'entry' : 'entries'}, thisUpdate ${crl.thisUpdate.toISOString()}, nextUpdate ${crl.nextUpdate.toISOString()}`)
          if (typeof flags.der === 'string') {
            writeFileSync(flags.der, crl.der)
            out(`wrote ${flags.der}`)
          } else out(derToPem(crl.der, 'X509 CRL').trimEnd())
          return 0
        } finally {
          await services.stop()
        }
      }),
  },
  issue: {
    summary: 'issue a certificate from the command line (a device\'s previous certificate of the profile is superseded)',
    usage:
      'kagi issue --profile user|device --user EMAIL [--device-name N --platform macos|ios|windows|chromeos|android [--hostname H] [--serial-number S]] [--csr FILE | --key-type rsa-2048|ecdsa-p256] --out PREFIX',
    options: {
      profile: { value: 'user|device', help: 'the certificate profile: user, or device (a machine certificate, which needs --hostname)' },
      user: { value: 'EMAIL', help: "the certificate's owner (added to kagi's users when new)" },
      'device-name': { value: 'NAME', help: "the device's name in kagi's inventory (a new device is added)" },
      platform: { value: 'PLATFORM', help: `the device's platform: ${'macos, ios, windows, chromeos or android'}` },
      hostname: { value: 'HOST', help: "the device's host name (the device profile's CN and dNSName)" },
      'serial-number': { value: 'S', help: "the device's hardware serial number, which identifies it to MDM routes" },
      csr: { value: 'FILE', file: true, help: 'sign this PEM certificate request instead of generating a key' },
      'key-type': { value: 'rsa-2048|ecdsa-p256', help: 'the key kagi generates when there is no --csr (default rsa-2048)' },
      out: { value: 'PREFIX', file: true, help: 'write PREFIX.crt, PREFIX.chain.pem and, without --csr, PREFIX.p12 (mode 0600)' },
    },
    example: 'kagi issue --profile user --user alice@example.com --out /tmp/alice',
    run: (config, _args, flags) => {
      const prefix = need(flags, 'out', 'file prefix: writes PREFIX.crt, PREFIX.chain.pem and, without --csr, PREFIX.p12')
      const device =
        text(flags, 'device-name') !== undefined || text(flags, 'platform') !== undefined
          ? { name: text(flags, 'device-name'), platform: text(flags, 'platform'), hostname: text(flags, 'hostname'), serialNumber: text(flags, 'serial-number') }
          : undefined
      const csr = text(flags, 'csr')
      const body = parseFlags(issueBody, {
        profile: text(flags, 'profile'),
        user: text(flags, 'user'),
        device,
        csr: csr === undefined ? undefined : readInput(csr, 'CSR'),
        keyType: text(flags, 'key-type'),
      })
      // Checked before anything is issued: a certificate whose files cannot be written would be lost.
      for (const suffix of body.csr ? ['.crt', '.chain.pem'] : ['.crt', '.chain.pem', '.p12']) assertWritable(`${prefix}${suffix}`, '--out')
      return withRuntime(config, 'kagi issue', async (runtime) => {
        const services = (await runtimeServices(runtime))!
        if (!body.csr) info(`generating ${withArticle(body.keyType ?? 'rsa-2048')} key...`)
        const result = await enroll(services, issueEnrollment(body, cliActor))
        await writeOrRevoke(services, result.serial, () => {
          writeFileSync(`${prefix}.crt`, result.certificatePem)
          writeFileSync(`${prefix}.chain.pem`, result.chainPem)
          if (result.pkcs12) writeFileSync(`${prefix}.p12`, result.pkcs12.der, { mode: 0o600 })
        })
        out(`serial ${result.serial}`)
        out(`wrote ${prefix}.crt and ${prefix}.chain.pem`)
        if (result.superseded.length) out(`revoked as superseded: ${result.superseded.join(', ')}`)
        if (result.pkcs12) {
          out(`wrote ${prefix}.p12 (mode 0600); its one-time password, not stored anywhere:`)
          out(result.pkcs12.password)
        }
        return 0
      })
    },
  },
  bundle: {
    summary: 'issue a certificate and write the platform\'s enrollment bundle (.mobileconfig, .ps1, .onc, .zip)',
    usage:
      'kagi bundle --user EMAIL --platform macos|ios|windows|chromeos|android (--device ID_OR_SERIAL | --device-name NAME) [--profile user|device] [--hostname H] [--renew] [--unsigned] --out FILE',
    options: {
      user: { value: 'EMAIL', help: "the certificate's owner (added to kagi's users when new)" },
      platform: { value: 'PLATFORM', help: `the platform the bundle installs on: ${'macos, ios, windows, chromeos or android'}` },
      device: { value: 'ID_OR_SERIAL', help: "an existing device by kagi's id, or a hardware serial number (an unknown one adds the device)" },
      'device-name': { value: 'NAME', help: 'the name of a new device (or of the one --device adds)' },
      profile: { value: 'user|device', help: 'user (the default) or device (a machine certificate, which needs --hostname)' },
      hostname: { value: 'HOST', help: "the device's host name (the device profile's CN and dNSName)" },
      renew: { help: "replace the device's current certificate even when it has more than 30 days left" },
      unsigned: { help: 'leave an Apple profile (.mobileconfig) unsigned' },
      out: { value: 'FILE', file: true, help: 'where to write the bundle (mode 0600: it holds a private key)' },
    },
    example: "kagi bundle --user alice@example.com --platform ios --device-name \"Alice's iPhone\" --out alice.mobileconfig",
    run: (config, _args, flags) => {
      const file = need(flags, 'out', 'where to write the bundle')
      const parsed = parseFlags(bundleFlags, {
        user: text(flags, 'user'),
        platform: text(flags, 'platform'),
        device: text(flags, 'device'),
        deviceName: text(flags, 'device-name'),
        profile: text(flags, 'profile'),
        hostname: text(flags, 'hostname'),
      })
      assertWritable(file, '--out')
      const { platform, device, deviceName, hostname } = parsed
      return withRuntime(config, 'kagi bundle', async (runtime) => {
        const services = (await runtimeServices(runtime))!
        info(`generating an rsa-2048 key and ${withArticle(platformNames[platform])} bundle for ${parsed.user}...`)
        const result = await enroll(services, {
          actor: cliActor,
          email: parsed.user,
          profile: parsed.profile,
          device: device ? deviceByIdOrSerial(device, platform, hostname, deviceName) : { name: deviceName!, platform, hostname },
          key: { generate: 'rsa-2048' },
          deliver: { as: 'bundle', platform, signed: flags.unsigned !== true },
          current: flags.renew === true ? 'supersede' : 'keep-unless-near-expiry',
        })
        const bundle = result.bundle!
        await writeOrRevoke(services, result.serial, () => writeFileSync(file, bundle.body, { mode: 0o600 }))
        out(`serial ${result.serial}, device ${result.deviceId}`)
        out(`wrote ${file} (${bundle.contentType}, mode 0600; it holds a private key)`)
        if (result.superseded.length) out(`revoked as superseded: ${result.superseded.join(', ')}`)
        if (bundle.pkcs12Password) {
          out('its one-time PKCS#12 password, not stored anywhere:')
          out(bundle.pkcs12Password)
        }
        return 0
      })
    },
  },
  doctor: doctorCommand,
  ...panosCommands,
  ...auditCommands,
  ...secretCommands,
}
