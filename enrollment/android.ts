/**
 * The Android bundle: a ZIP with the identity as PKCS#12, the two CA
 * certificates (PEM) and INSTALL.txt. Android's certificate installer
 * (Settings → Encryption & credentials → Install a certificate) takes a
 * .p12 and asks for its password, so the password cannot be embedded as on
 * the other platforms: it goes back to the caller (Bundle.pkcs12Password) to
 * be shown once on the download page, and is deliberately NOT in the ZIP.
 */
import { derToPem } from '../ca/der.js'
import type { BundleSettings, Credential } from './bundle-types.js'
import { credentialPkcs12, fileStem, issuingAndRoot, portalAddress, randomSource } from './bundle-common.js'
import { newPkcs12Password } from './password.js'
import { bundleInstructions } from './instructions.js'
import { buildZip } from './zip.js'

/** Names of the entries after the .p12 (which is named after the device). */
export const androidEntryNames = { root: 'kagi-root-ca.crt', issuing: 'kagi-issuing-ca.crt', instructions: 'INSTALL.txt' } as const

/** INSTALL.txt: the numbered steps in English, then in Japanese; CRLF so any editor shows the lines. */
function installText(credential: Credential, settings: BundleSettings, filename: string): string {
  const options = { portal: portalAddress(settings.portal), filename, organization: settings.organization }
  const numbered = (steps: string[]): string[] => steps.map((step, i) => `${i + 1}. ${step}`)
  const lines = [
    `${settings.organization}: GlobalProtect certificate for ${credential.deviceName} (${credential.subject}, serial ${credential.serial})`,
    '',
    ...numbered(bundleInstructions('android', credential.kind, 'en', options)),
    '',
    `${settings.organization}: ${credential.deviceName} 用の GlobalProtect 証明書（${credential.subject}、シリアル ${credential.serial}）`,
    '',
    ...numbered(bundleInstructions('android', credential.kind, 'ja', options)),
    '',
  ]
  return lines.join('\r\n')
}

/**
 * Builds the ZIP and returns it with the PKCS#12 password. The PKCS#12
 * carries the chain [issuing, root] as well, so the Android KeyChain holds
 * the whole path and GlobalProtect can present the issuing CA with the leaf.
 */
export function buildAndroidBundle(credential: Credential, settings: BundleSettings): { body: Buffer; filename: string; pkcs12Password: string } {
  const { issuing, root } = issuingAndRoot(credential.chain)
  const stem = fileStem(credential)
  const filename = `${stem}.zip`
  const pkcs12Password = newPkcs12Password(randomSource(settings))
  const body = buildZip(
    [
      { name: `${stem}.p12`, data: credentialPkcs12(credential, settings, pkcs12Password, true) },
      { name: androidEntryNames.root, data: Buffer.from(derToPem(root, 'CERTIFICATE')) },
      { name: androidEntryNames.issuing, data: Buffer.from(derToPem(issuing, 'CERTIFICATE')) },
      { name: androidEntryNames.instructions, data: Buffer.from(installText(credential, settings, filename), 'utf8') },
    ],
    settings.now ?? new Date(),
  )
  return { body, filename, pkcs12Password }
}
