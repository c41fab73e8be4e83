import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import type { Credential } from '../../enrollment/bundle-types.js'
import { buildWindowsScript } from '../../enrollment/windows-script.js'
import { assertPkcs12, freshCredential, skipUnlessTools, testSettings } from './fixtures/helpers.js'

const skip = skipUnlessTools(t, ['openssl'])

const thumbprint = (der: Buffer): string => createHash('sha1').update(der).digest('hex').toUpperCase()

/** The script as text, after checking the BOM and that every line ends in CRLF. */
function scriptText(t: Test, body: Buffer): string {
  t.same([...body.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM')
  const text = body.subarray(3).toString('utf8')
  t.notOk(/[^\r]\n/.test(text), 'no bare LF')
  t.notOk(/\r(?!\n)/.test(text), 'no bare CR')
  t.ok(text.endsWith('\r\n'), 'ends with CRLF')
  return text
}

/** Values of `$Name = '...'` assignments and `$Name = @'...'@` here-strings. */
function variable(text: string, name: string): string {
  const single = new RegExp(`^\\$${name} = '((?:[^']|'')*)'\\r$`, 'm').exec(text)
  if (single) return single[1]!.replace(/''/g, "'")
  const here = new RegExp(`^\\$${name} = @'\\r\\n([\\s\\S]*?)\\r\\n'@\\r$`, 'm').exec(text)
  if (here) return here[1]!
  throw new Error(`no $${name} in the script`)
}

for (const [kind, leaf] of [['user', 'ec-p256'], ['device', 'rsa-2048']] as const) {
  t.test(`ok/${kind} script: stores, registry, elevation, embedded PKCS#12`, { skip }, async (t) => {
    const pki = await freshCredential('ecdsa-p256', leaf, kind)
    const { credential } = pki
    const text = scriptText(t, buildWindowsScript(credential, testSettings()))
    const [issuing, root] = credential.chain as [Buffer, Buffer]

    t.equal(variable(text, 'Kind'), kind)
    t.equal(variable(text, 'IdentityStore'), kind === 'user' ? 'Cert:\\CurrentUser\\My' : 'Cert:\\LocalMachine\\My', 'identity store per kind')
    t.equal(variable(text, 'RootThumbprint'), thumbprint(root))
    t.equal(variable(text, 'IssuingThumbprint'), thumbprint(issuing))
    t.equal(variable(text, 'IdentityThumbprint'), thumbprint(credential.certificate))
    t.ok(Buffer.from(variable(text, 'RootBase64'), 'base64').equals(root), 'root DER embedded')
    t.ok(Buffer.from(variable(text, 'IssuingBase64'), 'base64').equals(issuing), 'issuing DER embedded')
    t.match(text, "Install-CaCertificate $RootBase64 $RootThumbprint 'Root'", 'root → LocalMachine\\Root')
    t.match(text, "Install-CaCertificate $IssuingBase64 $IssuingThumbprint 'CA'", 'issuing → LocalMachine\\CA')
    t.match(text, '$target = "Cert:\\LocalMachine\\$Store"')

    // PKCS#12: opens with the embedded password (no -legacy), legacy algorithms, leaf only.
    const password = variable(text, 'Pkcs12Password')
    const p12 = Buffer.from(variable(text, 'Pkcs12Base64'), 'base64')
    assertPkcs12(t, p12, password, pki, [credential.certificate])

    // Registry value, written with the portal and checked afterwards.
    t.equal(variable(text, 'Portal'), 'vpn.example.com')
    t.match(text, "$PanSetupKey = 'HKLM:\\SOFTWARE\\Palo Alto Networks\\GlobalProtect\\PanSetup'")
    t.match(text, "New-ItemProperty -LiteralPath $PanSetupKey -Name 'Portal' -Value $Portal -PropertyType String -Force")
    t.match(text, '(Get-ItemProperty -LiteralPath $PanSetupKey).Portal -ne $Portal')

    // Failure handling, idempotence, verification, cleanup.
    t.match(text, "$ErrorActionPreference = 'Stop'")
    t.match(text, /\r\n\} catch \{\r\n[^\r]*FAILED[^\r]*\r\n[^\r]*\r\n {2}\$exitCode = 1\r\n\}\r\n/, 'catch prints FAILED and sets exit code 1')
    t.match(text, /\r\nexit \$exitCode\r\n$/, 'the script ends with that exit code')
    t.match(text, "if (-not $MachineOnly -and -not $NoPause) { Read-Host", 'waits for Enter unless elevated child or -NoPause')
    t.match(text, 'if (Test-Path -LiteralPath "$target\\$Thumbprint") { Write-Step "Already installed', 'CA certificates skipped when present')
    t.match(text, 'if (Test-Path -LiteralPath "$IdentityStore\\$IdentityThumbprint") { Write-Step "Already installed', 'identity skipped when present')
    t.match(text, /not in \$target after the import/, 'imports are checked')
    t.match(text, /-or -not \$cert\.HasPrivateKey/, 'identity checked with its private key')
    t.equal((text.match(/finally \{ Remove-Item -LiteralPath \$file -Force/g) ?? []).length, 2, 'temporary .cer and .pfx removed in finally')

    // Elevation: a user identity is imported as the invoking user BEFORE re-launching elevated with -MachineOnly.
    const main = text.slice(text.lastIndexOf('\r\ntry {'))
    const userImport = main.indexOf("if ($Kind -eq 'user') { Install-Identity }")
    const elevate = main.indexOf('if (Test-Administrator) { Install-MachineParts } else { Invoke-Elevated }')
    t.ok(userImport > 0 && elevate > userImport, 'user identity first, then the machine parts (elevated if needed)')
    t.match(text, "'-MachineOnly'", 're-launch passes -MachineOnly')
    t.match(text, '-Verb RunAs', 'elevation through UAC')
    t.match(text, /if \(\$MachineOnly\) \{\r\n {4}Install-MachineParts\r\n {2}\}/, '-MachineOnly does only the machine parts')
    t.match(text, "if ($Kind -eq 'device') { Install-Identity }", 'a machine identity is part of the machine parts')
    t.match(text, /ExitCode -ne 0\) \{ throw/, 'a failed elevated part fails the script')
  })
}

t.test('ok/no portal: no registry value, the script says so', async (t) => {
  const { credential } = await freshCredential('ecdsa-p256', 'ec-p256')
  const text = scriptText(t, buildWindowsScript(credential, testSettings({ portal: undefined })))
  t.equal(variable(text, 'Portal'), '')
  t.match(text, "if ($Portal -eq '') { Write-Step 'No GlobalProtect portal is configured")
})

t.test('ok/hostile names cannot break out of strings or comments', async (t) => {
  const { credential } = await freshCredential('ecdsa-p256', 'ec-p256')
  const hostile: Credential = { ...credential, deviceName: "Bob's PC\r\nRemove-Item C:\\ -Recurse #\u2019x" }
  const text = scriptText(t, buildWindowsScript(hostile, testSettings({ organization: "O'Brien ‘Corp’" })))
  t.notMatch(text, /\r\nRemove-Item C:/, 'no injected line')
  t.match(text, "for Bob's PC  Remove-Item C:\\ -Recurse #\u2019x", 'comment line keeps the name on one line')
  t.match(text, "$DeviceName = 'Bob''s PC  Remove-Item C:\\ -Recurse #\u2019\u2019x'", 'ASCII and curly quotes doubled inside the string literal')
  t.equal(variable(text, 'DeviceName'), "Bob's PC  Remove-Item C:\\ -Recurse #\u2019\u2019x".replace(/''/g, "'"))
  t.throws(() => buildWindowsScript(credential, testSettings({ portal: "vpn.example.com'; Remove-Item C:\\" })), /not a host name/)
})

t.test('fail/the chain must be [issuing, root]', async (t) => {
  const { credential } = await freshCredential('ecdsa-p256', 'ec-p256')
  t.throws(() => buildWindowsScript({ ...credential, chain: [credential.chain[0]!] }, testSettings()), /issuing CA, root CA/)
})
