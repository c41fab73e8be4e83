/**
 * An attacker's (and a test's) SAML IdP in Node: builds SAML 2.0 Responses signed with
 * xml-crypto 6 the way SimpleSAMLphp/OneLogin do (exclusive c14n, enveloped signature,
 * RSA-SHA256/SHA-256, X509Certificate in KeyInfo), and a corpus of forged responses
 * (signature wrapping, comment/PI in NameID, foreign KeyInfo, wrong audience/recipient/...).
 * Every response is base64, as posted to the ACS in `SAMLResponse`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DOMParser, XMLSerializer } from '@xmldom/xmldom'
import { SignedXml } from 'xml-crypto'
import { run } from './openssl.js'

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
} as const
export const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256'
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#'
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature'

/** The identity the forgeries try to log in as. */
export const EVIL_NAME_ID = 'admin@example.com'

/** An IdP (or an attacker posing as one): entityID and an RSA-2048 self-signed certificate + key. */
export interface TestIdp {
  entityId: string
  certPem: string
  keyPem: string
}

/** Makes an RSA-2048 key (node crypto) and a self-signed SHA-256 certificate (openssl). */
export function createTestIdp(opts: { entityId?: string; commonName?: string } = {}): TestIdp {
  const entityId = opts.entityId ?? 'https://idp.forge.test/saml/metadata'
  const commonName = opts.commonName ?? new URL(entityId).hostname
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  // openssl 3 cannot read the key from a pipe (-key - / /dev/stdin): a private temp file it is
  const dir = mkdtempSync(join(tmpdir(), 'kagi-forge-'))
  try {
    const keyPath = join(dir, 'idp.key')
    writeFileSync(keyPath, keyPem, { mode: 0o600 })
    const r = run('openssl', ['req', '-x509', '-new', '-key', keyPath, '-sha256', '-days', '3650', '-subj', `/CN=${commonName}`])
    if (r.status !== 0 || !r.stdout.includes('BEGIN CERTIFICATE')) throw new Error(`openssl req -x509 failed: ${r.stderr}`)
    return { entityId, certPem: r.stdout, keyPem }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export interface ResponseOptions {
  nameId: string
  /** Default: emailAddress. */
  nameIdFormat?: string
  /** Name → value(s), sent with basic NameFormat as xs:string. */
  attributes?: Record<string, string | string[]>
  /** Conditions/AudienceRestriction/Audience. */
  audience: string
  /** SubjectConfirmationData@Recipient. */
  recipient: string
  /** Response@Destination. */
  destination: string
  /** Response@InResponseTo and SubjectConfirmationData@InResponseTo; omitted = IdP-initiated. */
  inResponseTo?: string
  /** SubjectConfirmationData@InResponseTo when it should differ from Response@InResponseTo (null = leave out). */
  subjectInResponseTo?: string | null
  /** Issuer of Response and Assertion; default idp.entityId. */
  issuer?: string
  /** Conditions@NotBefore. */
  notBefore: Date
  /** Conditions@NotOnOrAfter and SubjectConfirmationData@NotOnOrAfter. */
  notOnOrAfter: Date
  /** IssueInstant of Response and Assertion, AuthnInstant. */
  issueInstant: Date
  assertionId?: string
  responseId?: string
  sessionIndex?: string
  /** Default false. */
  signResponse?: boolean
  /** Default true. */
  signAssertion?: boolean
}

/** Sensible options for an SP: alice, OneLogin attribute names, valid from a minute ago for five minutes. */
export function defaultResponseOptions(sp: { entityId: string; acsUrl: string }, inResponseTo?: string, now = new Date()): ResponseOptions {
  return {
    nameId: 'alice@example.com',
    nameIdFormat: EMAIL_FORMAT,
    attributes: {
      'User.email': 'alice@example.com',
      'User.FirstName': 'Alice',
      'User.LastName': 'Example',
      memberOf: ['Employees', 'VPN Admins'],
    },
    audience: sp.entityId,
    recipient: sp.acsUrl,
    destination: sp.acsUrl,
    inResponseTo,
    notBefore: new Date(now.getTime() - 60_000),
    notOnOrAfter: new Date(now.getTime() + 5 * 60_000),
    issueInstant: now,
  }
}

export function newId(): string {
  return `_${randomBytes(20).toString('hex')}`
}

const instant = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function attr(name: string, value: string | undefined): string {
  return value === undefined ? '' : ` ${name}="${esc(value)}"`
}

/** An unsigned saml:Assertion element (self-contained namespace declarations). */
export function assertionXml(idp: TestIdp, o: ResponseOptions): string {
  const issuer = o.issuer ?? idp.entityId
  const id = o.assertionId ?? newId()
  const subjectIrt = o.subjectInResponseTo === null ? undefined : (o.subjectInResponseTo ?? o.inResponseTo)
  const attributes = Object.entries(o.attributes ?? {})
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">` +
        (Array.isArray(values) ? values : [values]).map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
        `</saml:Attribute>`,
    )
    .join('')
  return (
    `<saml:Assertion xmlns:saml="${NS.saml}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema"` +
    ` ID="${esc(id)}" Version="2.0" IssueInstant="${instant(o.issueInstant)}">` +
    `<saml:Issuer>${esc(issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID${attr('SPNameQualifier', o.audience)}${attr('Format', o.nameIdFormat ?? EMAIL_FORMAT)}>${esc(o.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${instant(o.notOnOrAfter)}"${attr('Recipient', o.recipient)}${attr('InResponseTo', subjectIrt)}/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${instant(o.notBefore)}" NotOnOrAfter="${instant(o.notOnOrAfter)}">` +
    `<saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(o.issueInstant)}" SessionNotOnOrAfter="${instant(new Date(o.issueInstant.getTime() + 8 * 3600_000))}"` +
    ` SessionIndex="${esc(o.sessionIndex ?? newId())}"><saml:AuthnContext>` +
    `<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>` +
    `</saml:AuthnContext></saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
    `</saml:Assertion>`
  )
}

/** An unsigned samlp:Response wrapping the given assertion XML (or none). */
function responseXml(idp: TestIdp, o: ResponseOptions, assertion: string): string {
  return (
    `<samlp:Response xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${esc(o.responseId ?? newId())}" Version="2.0"` +
    ` IssueInstant="${instant(o.issueInstant)}"${attr('Destination', o.destination)}${attr('InResponseTo', o.inResponseTo)}>` +
    `<saml:Issuer>${esc(o.issuer ?? idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`
  )
}

const XP_RESPONSE = "/*[local-name(.)='Response']"
const XP_ASSERTION = `${XP_RESPONSE}/*[local-name(.)='Assertion']`

/**
 * Enveloped XML signature over the element at `xpath` (exclusive c14n, RSA-SHA256, SHA-256,
 * signer's certificate in KeyInfo), placed right after that element's saml:Issuer.
 */
export function signElement(xml: string, xpath: string, signer: Pick<TestIdp, 'certPem' | 'keyPem'>): string {
  const sig = new SignedXml({
    privateKey: signer.keyPem,
    publicCert: signer.certPem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  })
  sig.addReference({ xpath, digestAlgorithm: SHA256, transforms: [ENVELOPED, EXC_C14N] })
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: 'after' } })
  return sig.getSignedXml()
}

/** The Response as XML (signed as asked: assertion by default, response optionally). */
export function signedResponseXml(idp: TestIdp, opts: ResponseOptions): string {
  let xml = responseXml(idp, opts, assertionXml(idp, opts))
  if (opts.signAssertion ?? true) xml = signElement(xml, XP_ASSERTION, idp)
  if (opts.signResponse ?? false) xml = signElement(xml, XP_RESPONSE, idp)
  return xml
}

/** The Response base64-encoded, as an IdP posts it to the ACS. */
export function signedResponse(idp: TestIdp, opts: ResponseOptions): string {
  return toSamlResponse(signedResponseXml(idp, opts))
}

export function toSamlResponse(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64')
}

export function fromSamlResponse(samlResponse: string): string {
  return Buffer.from(samlResponse, 'base64').toString('utf8')
}

// ---- DOM surgery ----------------------------------------------------------------------------

function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document
}

function serialize(doc: Document | Node): string {
  return new XMLSerializer().serializeToString(doc as never)
}

function children(parent: Node, ns: string, localName: string): Element[] {
  const out: Element[] = []
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName) out.push(n as Element)
  }
  return out
}

function child(parent: Node, ns: string, localName: string): Element {
  const found = children(parent, ns, localName)[0]
  if (!found) throw new Error(`no ${localName} under ${(parent as Element).localName}`)
  return found
}

function descendant(root: Document | Element, ns: string, localName: string): Element {
  const found = root.getElementsByTagNameNS(ns, localName)[0]
  if (!found) throw new Error(`no ${localName}`)
  return found
}

/** samlp:Extensions at its schema position (after Issuer and Signature, before Status), created if missing. */
function extensionsOf(doc: Document): Element {
  const response = doc.documentElement!
  const existing = children(response, NS.samlp, 'Extensions')[0]
  if (existing) return existing
  const ext = doc.createElementNS(NS.samlp, 'samlp:Extensions')
  response.insertBefore(ext, child(response, NS.samlp, 'Status'))
  return ext
}

function importXml(doc: Document, xml: string): Element {
  return doc.importNode(parse(xml).documentElement!, true) as Element
}

function setText(el: Element, ...parts: Node[]): void {
  while (el.firstChild) el.removeChild(el.firstChild)
  for (const p of parts) el.appendChild(p)
}

export type ForgeryExpectation = 'accept' | 'reject' | 'reject-or-signed-identity'

export interface Forgery {
  name: string
  /** Base64 Response as posted to the ACS. */
  samlResponse: string
  /** What the response is and what a vulnerable SP would do with it. */
  note: string
  /**
   * What a correct SP does: 'accept' only for `valid` (and only once: replay it to test replay
   * protection); 'reject'; or 'reject-or-signed-identity': reject, or log in exactly
   * `signedNameId` (the value the IdP signed), never `vulnerableNameId`.
   */
  expect: ForgeryExpectation
  /** For 'accept' / 'reject-or-signed-identity': the NameID the IdP actually signed. */
  signedNameId?: string
  /** For 'reject-or-signed-identity': what a parser that drops comments/PIs wrongly reads. */
  vulnerableNameId?: string
  /**
   * True when @node-saml/node-saml 5.1.0 (kagi's SP options, see test/auth/saml-forge.test.ts)
   * ACCEPTS it, so kagi's SP code must reject it itself.
   */
  spMustCheck: boolean
}

/**
 * The forged-response corpus. `idp` is the IdP the SP trusts (its key signs what a real
 * IdP would sign; the attacker edits it afterwards), `attacker` an unrelated key pair.
 * `base` must describe a response the SP would accept (e.g. {@link defaultResponseOptions}
 * with the SP's pending AuthnRequest ID as inResponseTo). The first entry is `valid`.
 */
export function forgeries(idp: TestIdp, attacker: TestIdp, base: ResponseOptions): Forgery[] {
  const now = base.issueInstant
  const plain: ResponseOptions = { ...base, signAssertion: true, signResponse: false }
  const sign = (o: Partial<ResponseOptions> = {}, by: TestIdp = idp): string => signedResponseXml(by, { ...plain, ...o })
  const evilOptions: ResponseOptions = {
    ...plain,
    nameId: EVIL_NAME_ID,
    attributes: { 'User.email': EVIL_NAME_ID, 'User.FirstName': 'Eve', 'User.LastName': 'Attacker', memberOf: ['Employees', 'VPN Admins', 'Domain Admins'] },
  }
  const evilAssertion = (doc: Document, id = newId()): Element => importXml(doc, assertionXml(idp, { ...evilOptions, assertionId: id }))
  const out: Forgery[] = []
  const add = (f: Omit<Forgery, 'samlResponse' | 'spMustCheck'> & { xml: string; spMustCheck?: boolean }): void => {
    out.push({ name: f.name, samlResponse: toSamlResponse(f.xml), note: f.note, expect: f.expect, signedNameId: f.signedNameId, vulnerableNameId: f.vulnerableNameId, spMustCheck: f.spMustCheck ?? false })
  }
  const edit = (xml: string, fn: (doc: Document, response: Element, assertion: Element) => void): string => {
    const doc = parse(xml)
    const response = doc.documentElement!
    fn(doc, response, child(response, NS.saml, 'Assertion'))
    return serialize(doc)
  }

  add({ name: 'valid', expect: 'accept', signedNameId: base.nameId, xml: sign(), note: 'the base response, assertion signed by the IdP; accept once, reject when posted again (replay)' })

  add({ name: 'unsigned-assertion', expect: 'reject', xml: sign({ signAssertion: false }), note: 'nothing signed at all' })

  add({
    name: 'unsigned-assertion-in-signed-response',
    expect: 'reject',
    xml: sign({ signAssertion: false, signResponse: true }),
    note: 'IdP-signed Response, assertion unsigned: rejected by policy (wantAssertionsSigned), so a signed envelope cannot vouch for a swapped assertion',
  })

  add({
    name: 'tampered-nameid',
    expect: 'reject',
    xml: edit(sign(), (doc, _r, a) => setText(descendant(a, NS.saml, 'NameID'), doc.createTextNode(EVIL_NAME_ID))),
    note: 'NameID changed after signing: digest mismatch',
  })

  add({
    name: 'xsw-evil-assertion-before-signed',
    expect: 'reject',
    xml: edit(sign(), (doc, r, a) => r.insertBefore(evilAssertion(doc), a)),
    note: 'XSW: unsigned evil assertion placed before the signed one; a vulnerable SP verifies one and reads the first',
  })

  add({
    name: 'xsw-evil-assertion-after-signed',
    expect: 'reject',
    xml: edit(sign(), (doc, r) => r.appendChild(evilAssertion(doc))),
    note: 'XSW: unsigned evil assertion placed after the signed one; a vulnerable SP verifies one and reads the last',
  })

  add({
    name: 'xsw-signed-assertion-in-evil-signature-object',
    expect: 'reject',
    xml: edit(sign(), (doc, r, a) => {
      const signature = child(a, NS.ds, 'Signature')
      a.removeChild(signature)
      const evil = evilAssertion(doc)
      evil.insertBefore(signature, child(evil, NS.saml, 'Issuer').nextSibling)
      const object = doc.createElementNS(NS.ds, 'ds:Object')
      signature.appendChild(object)
      r.replaceChild(evil, a)
      object.appendChild(a) // the original (now without its Signature) still digests to the signed value
    }),
    note: 'XSW (type 7/8): evil assertion carries the IdP signature, whose Reference points to the original assertion hidden in ds:Signature/ds:Object',
  })

  add({
    name: 'xsw-same-id-evil-assertion-before-signed',
    expect: 'reject',
    xml: edit(sign(), (doc, r, a) => r.insertBefore(evilAssertion(doc, a.getAttribute('ID')!), a)),
    note: 'XSW: evil assertion with the SAME ID as the signed one, first in document order; a getElementById-style lookup finds the evil one',
  })

  add({
    name: 'xsw-same-id-evil-assertion-carrying-signature',
    expect: 'reject',
    xml: edit(sign(), (doc, r, a) => {
      const signature = child(a, NS.ds, 'Signature')
      const evil = evilAssertion(doc, a.getAttribute('ID')!)
      evil.insertBefore(signature.cloneNode(true), child(evil, NS.saml, 'Issuer').nextSibling)
      const object = doc.createElementNS(NS.ds, 'ds:Object')
      child(evil, NS.ds, 'Signature').appendChild(object)
      a.removeChild(signature)
      r.replaceChild(evil, a)
      object.appendChild(a)
    }),
    note: 'XSW: evil assertion with the same ID carries the signature; the signed original sits in its ds:Object',
  })

  add({
    name: 'xsw-signed-response-assertion-moved-to-extensions',
    expect: 'reject',
    xml: edit(sign({ signResponse: true }), (doc, r, a) => {
      r.replaceChild(evilAssertion(doc), a)
      extensionsOf(doc).appendChild(a)
    }),
    note: 'IdP-signed Response and assertion; the signed assertion moved into samlp:Extensions, an unsigned evil assertion in its place (the Response signature no longer verifies)',
  })

  add({
    name: 'signed-assertion-in-extensions',
    expect: 'reject',
    xml: edit(sign(), (doc, r, a) => {
      r.replaceChild(evilAssertion(doc), a)
      extensionsOf(doc).appendChild(a)
    }),
    note: 'signed assertion hidden under samlp:Extensions, unsigned evil assertion in its place (lightsaml GHSA-w553-pwx6-3mg9, OneUptime #2949): "a signature verifies" + "read Response/Assertion"',
  })

  add({
    name: 'signed-assertion-in-extensions-signature-copy',
    expect: 'reject',
    xml: edit(sign(), (doc, r, a) => {
      const evil = evilAssertion(doc)
      evil.insertBefore(child(a, NS.ds, 'Signature').cloneNode(true), child(evil, NS.saml, 'Issuer').nextSibling)
      r.replaceChild(evil, a)
      extensionsOf(doc).appendChild(a)
    }),
    note: 'as signed-assertion-in-extensions, but the evil assertion carries a copy of the Signature (Reference → the hidden assertion), so "the assertion has a valid signature" looks true',
  })

  add({
    name: 'xsw-signed-response-wrapped-in-evil-response',
    expect: 'reject',
    xml: (() => {
      const original = parse(sign({ signResponse: true }))
      const originalResponse = original.documentElement!
      const doc = parse(responseXml(idp, { ...plain, responseId: newId() }, ''))
      const r = doc.documentElement!
      r.appendChild(evilAssertion(doc))
      const signature = child(originalResponse, NS.ds, 'Signature')
      originalResponse.removeChild(signature)
      const sigCopy = doc.importNode(signature, true) as Element
      r.insertBefore(sigCopy, child(r, NS.saml, 'Issuer').nextSibling)
      const object = doc.createElementNS(NS.ds, 'ds:Object')
      sigCopy.appendChild(object)
      object.appendChild(doc.importNode(originalResponse, true))
      return serialize(doc)
    })(),
    note: 'XSW1/2: new unsigned Response with an evil assertion; the IdP-signed original Response sits in its ds:Signature/ds:Object',
  })

  add({
    name: 'duplicate-assertion',
    expect: 'reject',
    xml: edit(sign(), (_d, r, a) => r.appendChild(a.cloneNode(true))),
    note: 'the signed assertion twice (same ID): which one is verified and which one read?',
  })

  add({
    name: 'duplicate-id',
    expect: 'reject',
    xml: edit(sign(), (_d, r, a) => r.setAttribute('ID', a.getAttribute('ID')!)),
    note: 'Response@ID equals the signed Assertion@ID: the signature Reference resolves to two elements',
  })

  const padded = `${base.nameId}.evil.com` // an account the attacker may register at the IdP
  add({
    name: 'nameid-comment',
    expect: 'reject-or-signed-identity',
    signedNameId: padded,
    vulnerableNameId: base.nameId,
    xml: edit(sign({ nameId: padded, attributes: { ...base.attributes, 'User.email': padded } }), (doc, _r, a) => {
      setText(descendant(a, NS.saml, 'NameID'), doc.createTextNode(base.nameId), doc.createComment(''), doc.createTextNode('.evil.com'))
    }),
    note: `CVE-2017-11428 style: IdP signed "${padded}", the attacker inserts <!----> after "${base.nameId}"; exclusive c14n drops comments so the signature holds; a parser reading the first text node gets "${base.nameId}"`,
  })

  add({
    name: 'nameid-processing-instruction',
    expect: 'reject-or-signed-identity',
    signedNameId: padded,
    vulnerableNameId: base.nameId,
    xml: edit(sign({ nameId: padded, attributes: { ...base.attributes, 'User.email': padded } }), (doc, _r, a) => {
      setText(descendant(a, NS.saml, 'NameID'), doc.createTextNode(base.nameId), doc.createProcessingInstruction('x', '.evil.com'))
    }),
    note: `IdP signed "${padded}", the attacker rewrites it as "${base.nameId}<?x .evil.com?>": xml-crypto canonicalizes a PI as its data (so the digest still matches) while DOM textContent drops PIs and reads "${base.nameId}" (OneUptime PR #2989)`,
  })

  add({
    name: 'digest-value-comment',
    expect: 'reject',
    xml: (() => {
      const valid = sign()
      // the digest of the assertion with the attacker's NameID (digests don't depend on the key)
      const modified = edit(valid, (doc, _r, a) => {
        a.removeChild(child(a, NS.ds, 'Signature'))
        setText(descendant(a, NS.saml, 'NameID'), doc.createTextNode(EVIL_NAME_ID))
      })
      const newDigest = descendant(parse(signElement(modified, XP_ASSERTION, attacker)), NS.ds, 'DigestValue').textContent!
      return edit(valid, (doc, _r, a) => {
        setText(descendant(a, NS.saml, 'NameID'), doc.createTextNode(EVIL_NAME_ID))
        const digest = descendant(child(a, NS.ds, 'Signature'), NS.ds, 'DigestValue')
        const original = digest.textContent!
        setText(digest, doc.createComment(newDigest), doc.createTextNode(original))
      })
    })(),
    note: 'SAMLStorm CVE-2025-29775 (xml-crypto < 6.0.1): NameID changed, the new digest put in a comment before the original DigestValue; SignedInfo c14n ignores the comment',
  })

  add({
    name: 'keyinfo-attacker-certificate',
    expect: 'reject',
    xml: sign({ issuer: idp.entityId }, attacker),
    note: "signed with the attacker's key, attacker's certificate in KeyInfo, Issuer = the real IdP (CVE-2024-32962 style: trusting KeyInfo)",
  })

  add({ name: 'wrong-audience', expect: 'reject', xml: sign({ audience: 'https://other-sp.example/saml/metadata' }), note: 'IdP-signed, for another SP (Audience)' })

  add({
    name: 'wrong-recipient',
    expect: 'reject',
    spMustCheck: true,
    xml: sign({ recipient: 'https://other-sp.example/saml/acs' }),
    note: 'IdP-signed, SubjectConfirmationData@Recipient is another ACS',
  })

  add({
    name: 'wrong-destination',
    expect: 'reject',
    spMustCheck: true,
    xml: sign({ destination: 'https://other-sp.example/saml/acs', signResponse: true }),
    note: 'IdP-signed Response and assertion, Response@Destination is another endpoint',
  })

  add({
    name: 'wrong-issuer',
    expect: 'reject',
    spMustCheck: true,
    xml: sign({ issuer: 'https://other-idp.example/saml/metadata' }),
    note: 'signed with the trusted key but Issuer names another IdP (matters when a key or SP serves several IdPs)',
  })

  add({
    name: 'wrong-in-response-to',
    expect: 'reject',
    xml: sign({ inResponseTo: newId() }),
    note: 'IdP-signed, answers an AuthnRequest this SP never sent (or another session sent)',
  })

  if (base.inResponseTo !== undefined) {
    add({
      name: 'wrong-subject-in-response-to',
      expect: 'reject',
      xml: sign({ subjectInResponseTo: newId() }),
      note: 'Response@InResponseTo is ours, SubjectConfirmationData@InResponseTo (signed) is another request',
    })
  }

  add({
    name: 'expired',
    expect: 'reject',
    xml: sign({
      issueInstant: new Date(now.getTime() - 2 * 3600_000),
      notBefore: new Date(now.getTime() - 2 * 3600_000),
      notOnOrAfter: new Date(now.getTime() - 3600_000),
    }),
    note: 'IdP-signed, NotOnOrAfter an hour ago (Conditions and SubjectConfirmationData)',
  })

  add({
    name: 'not-yet-valid',
    expect: 'reject',
    xml: sign({ notBefore: new Date(now.getTime() + 3600_000), notOnOrAfter: new Date(now.getTime() + 2 * 3600_000) }),
    note: 'IdP-signed, Conditions@NotBefore an hour ahead',
  })

  add({
    name: 'idp-initiated',
    expect: 'reject',
    xml: sign({ inResponseTo: undefined }),
    note: 'IdP-signed, unsolicited (no InResponseTo anywhere): kagi accepts only SP-initiated logins',
  })

  return out
}
