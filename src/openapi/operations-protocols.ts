import { prometheusContentType } from 'prom-client'
import { scepChallengeBody, scepQuery } from '../schemas/scep.js'
import { exampleEmail, json, jsonBodyRefusals, refusals, type Operation, type ResponseSpec } from './operation-types.js'
import * as shapes from './response-schemas.js'

/** The protocol and operations endpoints: SCEP (and its challenges), PKI, OCSP, health and metrics, and this reference. */

/** kagi's SCEP paths and NDES's (src/routes/scep.ts). */
const scepPaths = [
  { path: '/scep', id: 'Scep', note: '' },
  { path: '/scep/pkiclient.exe', id: 'ScepPkiclient', note: ' (the path Cisco-style clients append)' },
  { path: '/certsrv/mscep/mscep.dll', id: 'ScepNdes', note: ' (NDES’s path, for clients configured for NDES)' },
] as const

const scepGetResponses: Record<number, ResponseSpec> = {
  200: {
    description: 'GetCACaps: the capabilities, one a line. GetCACert: kagi’s SCEP certificate, the issuing CA and the root (degenerate PKCS#7). PKIOperation: the signed CertRep',
    content: { 'text/plain': 'text', 'application/x-x509-ca-ra-cert': 'binary', 'application/x-pki-message': 'binary' },
  },
  ...refusals('invalid_request', 'scep_malformed', 'scep_unsupported_operation'),
}

const scepOps: Operation[] = [
  {
    id: 'createScepChallenge',
    method: 'POST',
    path: '/api/v1/scep/challenges',
    tag: 'SCEP',
    summary: 'A one-time SCEP challenge bound to one user (and device, and profile)',
    description: 'The certificate’s subject and SANs come from this record and kagi’s inventory, never from the CSR. The challenge is shown here only.',
    access: { kind: 'token', roles: ['mdm', 'admin'] },
    body: { content: json(scepChallengeBody), required: true },
    responses: {
      201: { description: 'The challenge', content: json(shapes.scepChallenge) },
      ...refusals('invalid_request', ...jsonBodyRefusals, 'profile_violation', 'not_found', 'hostname_taken'),
    },
    example: { body: { user: exampleEmail, profile: 'user' } },
  },
  ...scepPaths.flatMap(({ path, id, note }): Operation[] => [
    {
      id: `get${id}`,
      method: 'GET',
      path,
      tag: 'SCEP',
      summary: `SCEP GetCACaps, GetCACert or PKIOperation${note}`,
      description: 'PKIOperation by GET carries the base64 pkiMessage in message. profile binds the request to a challenge of that profile.',
      access: { kind: 'public' },
      query: scepQuery,
      responses: scepGetResponses,
      example: { query: { operation: 'GetCACaps' } },
    },
    {
      id: `post${id}`,
      method: 'POST',
      path,
      tag: 'SCEP',
      summary: `SCEP PKIOperation${note}`,
      description: 'The DER pkiMessage as the body, of any content type; every pkiMessage gets a signed CertRep (a refusal is a CertRep with a failInfo).',
      access: { kind: 'public' },
      query: scepQuery,
      body: { content: { 'application/x-pki-message': 'binary' }, required: true, description: 'The DER pkiMessage (RFC 8894 §3.2), at most 64 KiB' },
      responses: {
        200: { description: 'The signed CertRep', content: { 'application/x-pki-message': 'binary' } },
        ...refusals('invalid_request', 'scep_malformed', 'scep_unsupported_operation', 'payload_too_large'),
      },
      example: { query: { operation: 'PKIOperation' }, bodyFile: 'request.der', curl: ['-o', 'certrep.der'] },
    },
  ]),
  ...['/certsrv/mscep_admin', '/certsrv/mscep_admin/'].map(
    (path, i): Operation => ({
      id: i === 0 ? 'getNdesChallengePage' : 'getNdesChallengePageSlash',
      method: 'GET',
      path,
      tag: 'SCEP',
      summary: 'The NDES one-time challenge page',
      description:
        'For NDES clients (the GlobalProtect portal, Jamf Pro, Fleet): a UTF-16 page saying "The enrollment challenge password is: <B> …". HTTP Basic with an mdm or admin token as the password (the user name is ignored). The challenge is bound to the token; the CSR’s names must then find a known user or device.',
      access: { kind: 'token', roles: ['mdm', 'admin'], basic: true },
      responses: { 200: { description: 'The challenge page', content: { 'text/html; charset=utf-16': 'text' } } },
      example: { curl: ['-o', 'ndes.html'] },
    }),
  ),
]

const cacheable = 'public: caches may keep it'
const pkiOps: Operation[] = [
  ...(
    [
      ['/pki/root.crt', 'getRootCertificate', 'The root CA certificate', 'root.crt'],
      ['/pki/issuing.crt', 'getIssuingCertificate', 'The issuing CA certificate', 'issuing.crt'],
    ] as const
  ).map(
    ([path, id, summary, file]): Operation => ({
      id,
      method: 'GET',
      path,
      tag: 'PKI',
      summary: `${summary} (DER)`,
      access: { kind: 'public' },
      responses: { 200: { description: `${summary}, DER (${cacheable} for an hour)`, content: { 'application/pkix-cert': 'binary' } } },
      example: { curl: ['-o', file] },
    }),
  ),
  {
    id: 'getChain',
    method: 'GET',
    path: '/pki/chain.pem',
    tag: 'PKI',
    summary: 'The issuing CA then the root (PEM)',
    access: { kind: 'public' },
    responses: { 200: { description: 'Two PEM certificates', content: { 'application/x-pem-file': 'text' } } },
  },
  ...(
    [
      ['/pki/crl', 'getIssuingCrl', 'The issuing CA’s CRL', 'issuing.crl'],
      ['/pki/root.crl', 'getRootCrl', 'The root’s CRL', 'root.crl'],
    ] as const
  ).map(
    ([path, id, summary, file]): Operation => ({
      id,
      method: 'GET',
      path,
      tag: 'PKI',
      summary: `${summary} (DER)`,
      description: 'Cache-Control, Expires and ETag follow the CRL’s nextUpdate and number (RFC 5280 §5.1.2.5).',
      access: { kind: 'public' },
      responses: {
        200: { description: `${summary}, DER`, content: { 'application/pkix-crl': 'binary' } },
        ...refusals('not_found'),
      },
      example: { curl: ['-o', file] },
    }),
  ),
]

const ocspAnswer: ResponseSpec = {
  description: 'The signed OCSP response; a malformed request gets a malformedRequest response, still with HTTP 200 (RFC 6960 Appendix A)',
  content: { 'application/ocsp-response': 'binary' },
}

const ocspOps: Operation[] = [
  {
    id: 'postOcsp',
    method: 'POST',
    path: '/ocsp',
    tag: 'OCSP',
    summary: 'OCSP request by POST (openssl, PAN-OS)',
    access: { kind: 'public' },
    body: { content: { 'application/ocsp-request': 'binary' }, required: true, description: 'The DER OCSP request, at most 16 KiB' },
    responses: { 200: ocspAnswer, ...refusals('payload_too_large', 'unsupported_media_type') },
    example: { bodyFile: 'request.der', curl: ['-o', 'response.der'] },
  },
  {
    id: 'getOcsp',
    method: 'GET',
    path: '/ocsp/{request}',
    route: '/ocsp/*',
    tag: 'OCSP',
    summary: 'OCSP request by GET (NSS, browsers)',
    description: 'Answers to GET may be cached until the response’s nextUpdate (RFC 5019 §6.2). The parameter may itself contain "/" (base64).',
    access: { kind: 'public' },
    params: { request: shapes.pathParams.ocspRequest },
    responses: { 200: ocspAnswer },
    // openssl ocsp -issuer issuing.pem -serial 0x5e0c… -no_nonce -reqout request.der; base64; URL-encoded.
    example: { params: { request: 'MFEwTzBNMEswSTAJBgUrDgMCGgUABBSEyPTGfUgPznCiVCOYYqwaelaqVAQU1PITotcLKQ9TDJeuuQONAgvh2jMCEF4MHXqbP04qjG0LHzpefJ0%3D' }, curl: ['-o', 'response.der'] },
  },
]

const operationsOps: Operation[] = [
  {
    id: 'getHealth',
    method: 'GET',
    path: '/healthz',
    tag: 'Operations',
    summary: 'Liveness: the process is up',
    access: { kind: 'public' },
    responses: { 200: { description: 'Up', content: json(shapes.healthStatus('ok')) } },
  },
  {
    id: 'getReadiness',
    method: 'GET',
    path: '/readyz',
    tag: 'Operations',
    summary: 'Readiness: the database answers',
    access: { kind: 'public' },
    responses: {
      200: { description: 'Ready', content: json(shapes.healthStatus('ready')) },
      503: { description: 'Refused: database_unavailable, or shutting_down from SIGTERM on (so a load balancer stops sending requests)' },
    },
  },
  {
    id: 'getMetrics',
    method: 'GET',
    path: '/metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics (kagi_…)',
    description: 'Open unless KAGI_METRICS_TOKEN is set; then Authorization: Bearer <KAGI_METRICS_TOKEN> is required.',
    access: { kind: 'metrics' },
    responses: { 200: { description: 'The text exposition format', content: { [prometheusContentType]: 'text' } } },
  },
]

const referenceOps: Operation[] = [
  {
    id: 'getOpenApiDocument',
    method: 'GET',
    path: '/openapi.json',
    tag: 'Reference',
    summary: 'This reference as an OpenAPI 3.1 document',
    access: { kind: 'public' },
    responses: { 200: { description: 'The OpenAPI document', content: { 'application/json': 'text' } } },
    example: { curl: ['-o', 'kagi-openapi.json'] },
  },
  {
    id: 'getDocs',
    method: 'GET',
    path: '/docs',
    tag: 'Reference',
    summary: 'This reference as a page',
    access: { kind: 'public' },
    responses: { 200: { description: 'The page', content: { 'text/html; charset=utf-8': 'text' } } },
  },
]

export const protocolOperations: readonly Operation[] = [...scepOps, ...pkiOps, ...ocspOps, ...operationsOps, ...referenceOps]
