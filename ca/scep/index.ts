/** SCEP (RFC 8894) messages: read and verify requests, open their envelopes, build CertReps. No HTTP, no database. */
export * from './scep-types.js'
export * from './pki-message.js'
export * from './envelope.js'
export * from './cert-rep.js'
export { certificatesOnly } from '../cms.js'
export * from './csr-claims.js'
