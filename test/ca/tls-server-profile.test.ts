import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { Authority, CaError, createHierarchy, derToPem, softwareSigner, verifyCsr } from '../../ca/index.js'
import { tlsServerProfile } from '../../profiles/index.js'
import { opensslCsr, run, tempDir } from '../support/openssl.js'

// The tls-server profile (the check listener's certificate): serverAuth only, the host name as the
// one dNSName, 30 days, no CRL or AIA pointers; openssl accepts it as an SSL server certificate for
// that name and refuses it as a client certificate.

const URL = 'https://kagi.example.com'

t.test('tls-server: a server certificate for the host name, and nothing else', async (t) => {
  const { root, issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: URL, caName: 'kagi' })
  const dir = tempDir(t)
  const rootFile = dir.file('root.pem', derToPem(root.certificate.der, 'CERTIFICATE'))
  const issuingFile = dir.file('issuing.pem', derToPem(issuing.certificate.der, 'CERTIFICATE'))
  for (const keySpec of ['ec:P-256', 'rsa:2048']) {
    const key = verifyCsr(opensslCsr(dir.dir, keySpec))
    const issued = authority.sign(tlsServerProfile, { facts: { hostname: 'Check.Kagi.example.com' }, key })
    const cert = new X509Certificate(issued.der)
    t.equal(cert.subject, 'CN=Check.Kagi.example.com')
    t.equal(cert.subjectAltName, 'DNS:check.kagi.example.com', 'one dNSName, lowercase')
    t.same(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'EKU serverAuth only')
    t.equal(Math.round((issued.notAfter.getTime() - issued.notBefore.getTime()) / 86_400_000), 30, 'about 30 days (backdated 5 minutes)')
    const leaf = dir.file(`leaf-${keySpec}.pem`, derToPem(issued.der, 'CERTIFICATE'))
    const text = run('openssl', ['x509', '-in', leaf, '-noout', '-text']).stdout
    t.notMatch(text, /CRL Distribution Points|Authority Information Access/, 'no revocation pointers')
    t.match(text, keySpec.startsWith('rsa') ? /Digital Signature, Key Encipherment/ : /Digital Signature\n/, 'keyEncipherment only for RSA keys')
    const server = run('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'check.kagi.example.com', '-CAfile', rootFile, '-untrusted', issuingFile, leaf])
    t.equal(server.status, 0, server.stdout + server.stderr)
    const other = run('openssl', ['verify', '-purpose', 'sslserver', '-verify_hostname', 'other.kagi.example.com', '-CAfile', rootFile, '-untrusted', issuingFile, leaf])
    t.not(other.status, 0, 'not valid for another name')
    const client = run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', issuingFile, leaf])
    t.not(client.status, 0, 'not a client certificate')
  }
})

t.test('tls-server: issue refuses a missing or malformed host name', async (t) => {
  const { issuing } = await createHierarchy({ name: 'kagi', keyType: 'ecdsa-p256', publicUrl: URL })
  const authority = new Authority({ issuing: { certificate: issuing.certificate, signer: softwareSigner(issuing.privateKey) }, publicUrl: URL, caName: 'kagi' })
  const key = verifyCsr(opensslCsr(tempDir(t).dir, 'ec:P-256'))
  const never = async () => {
    throw new Error('not stored')
  }
  await t.rejects(authority.issue({ profile: 'tls-server', facts: {}, key, actor: 't' }, never), CaError)
  await t.rejects(authority.issue({ profile: 'tls-server', facts: { hostname: '10.0.0.1' }, key, actor: 't' }, never), /is not a DNS host name/)
})
