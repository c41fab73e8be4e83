import { children, DerError, readOne, Tag, type Node } from './der.js'
import { OID } from './oids.js'
import { readOid } from './der.js'

/** What the CA needs to know about a certificate it signs with or checks. */
export interface CertificateInfo {
  der: Buffer
  serial: Buffer
  /** DER Name of the subject, reused verbatim as the issuer of what this CA signs. */
  subject: Buffer
  issuer: Buffer
  notBefore: Date
  notAfter: Date
  publicKeyInfo: Buffer
  /** subjectKeyIdentifier extension value, when present. */
  subjectKeyId?: Buffer
  /** basicConstraints cA flag. */
  isCa: boolean
  pathLength?: number
}

/** Reads a UTCTime or GeneralizedTime node (RFC 5280 §4.1.2.5). */
export function readTime(node: Node): Date {
  const text = node.value.toString('ascii')
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (!m) throw new DerError(`unsupported time ${text}`)
  let year = Number(m[1])
  if (node.tag === Tag.utcTime) year += year < 50 ? 2000 : 1900
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])))
}

/** Parses the fields kagi uses from a DER certificate (RFC 5280 §4.1). */
export function certificateInfo(der: Buffer): CertificateInfo {
  const [tbs] = children(readOne(der))
  if (!tbs) throw new DerError('empty certificate')
  const parts = children(tbs)
  const hasVersion = parts[0]?.tag === 0xa0
  const [serial, , issuer, validity, subject, spki, ...rest] = hasVersion ? parts.slice(1) : parts
  if (!serial || !issuer || !validity || !subject || !spki) throw new DerError('incomplete certificate')
  const [notBefore, notAfter] = children(validity)
  const info: CertificateInfo = {
    der,
    serial: serial.value,
    subject: subject.raw,
    issuer: issuer.raw,
    notBefore: readTime(notBefore!),
    notAfter: readTime(notAfter!),
    publicKeyInfo: spki.raw,
    isCa: false,
  }
  const extensions = rest.find((n) => n.tag === 0xa3)
  for (const ext of extensions ? children(children(extensions)[0]!) : []) {
    const [id, ...others] = children(ext)
    const value = others[others.length - 1]!.value
    const extId = readOid(id!)
    if (extId === OID.subjectKeyIdentifier) info.subjectKeyId = readOne(value).value
    if (extId === OID.basicConstraints) {
      const fields = children(readOne(value))
      info.isCa = fields[0]?.tag === Tag.boolean && fields[0].value[0] !== 0
      const len = fields.find((f) => f.tag === Tag.integer)
      if (len) info.pathLength = len.value.reduce((n, b) => n * 256 + b, 0)
    }
  }
  return info
}
