import { pino, type DestinationStream, type Logger } from 'pino'
import { prettyLines } from './log-pretty.js'

/**
 * Log paths that are never written: tokens, passwords, passphrases, keys,
 * challenges, SAML responses, cookies. Pino censors them wherever they are
 * logged, at the top level or one object down (`*.x`), so a line that logs a
 * body, a config or a result object by mistake still carries no secret.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-kagi-pkcs12-password"]',
  'res.headers["set-cookie"]',
  'res.headers["x-kagi-pkcs12-password"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'authorization',
  'cookie',
  'SAMLResponse',
  'samlResponse',
  '_csrf',
  'pkcs12',
  'pkcs12Password',
  'password',
  'passphrase',
  'caPassphrase',
  'sessionSecret',
  'metricsToken',
  // postgres://user:password@host/db: the whole URL, since the password sits inside it.
  'databaseUrl',
  'token',
  'challenge',
  'challengePassword',
  'privateKey',
  'key',
  'keyPem',
  '*.authorization',
  '*.cookie',
  '*.SAMLResponse',
  '*.samlResponse',
  '*._csrf',
  '*.pkcs12',
  '*.pkcs12Password',
  '*.password',
  '*.passphrase',
  '*.caPassphrase',
  '*.sessionSecret',
  '*.metricsToken',
  '*.databaseUrl',
  '*.token',
  '*.challenge',
  '*.challengePassword',
  '*.privateKey',
  '*.key',
  '*.keyPem',
]

/** What a request looks like in a log line: never its headers (cookies, tokens), body or query string (SCEP messages). */
function requestValue(request: { method?: string; url?: string; ip?: string }): object {
  return { method: request.method, url: request.url?.split('?')[0], remoteAddress: request.ip }
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level: string
  /** Human-readable lines instead of JSON (kagi serve on a terminal). */
  pretty?: boolean
  /** Where lines go (default stdout); the redaction test passes a buffer. */
  destination?: DestinationStream
}

/**
 * kagi's logger: JSON lines (pino) for a log collector, readable lines when
 * `pretty`, secrets censored by {@link redactPaths} either way (redaction
 * happens before a line is formatted).
 */
export function createLogger(options: LoggerOptions): Logger {
  // Synchronous writes to fd 1: the last lines before an exit are not lost.
  const out = options.destination ?? pino.destination({ dest: 1, sync: true })
  return pino(
    {
      level: options.level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: { req: requestValue, res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }), err: pino.stdSerializers.err },
    },
    options.pretty ? prettyLines(out) : out,
  )
}
