// docker-compose.yml, checked structurally: no Docker engine runs where the tests do, so this test
// reads the file as Compose would (YAML with merge keys, ${VAR} interpolation from deploy/env.example)
// and topology.test.ts runs the same topology without Docker.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig, samlConfigured } from '../../src/config.js'
import { commandExists, requireComponent } from '../support/components.js'
import { run, tempDir } from '../support/openssl.js'

const root = join(import.meta.dirname, '..', '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

interface Service {
  build?: { context?: string; dockerfile?: string } | string
  image?: string
  command?: string | string[]
  entrypoint?: string | string[]
  environment?: Record<string, string | number | null>
  secrets?: string[]
  volumes?: string[]
  ports?: string[]
  restart?: string
  healthcheck?: { test: string[] | string }
  depends_on?: Record<string, { condition: string }>
  profiles?: string[]
  networks?: Record<string, { ipv4_address?: string } | null> | string[]
}
interface Compose {
  services: Record<string, Service>
  secrets: Record<string, { file: string }>
}

const composeText = read('docker-compose.yml')
const compose = parse(composeText, { merge: true }) as Compose
const services = compose.services
const kagiReplicas = Object.entries(services).filter(([, s]) => typeof s.build === 'object' && s.build.dockerfile === 'Dockerfile')

/** deploy/env.example's uncommented KEY=VALUE lines, as `docker compose` reads .env. */
function envExample(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of read('deploy/env.example').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    if (m) env[m[1]!] = m[2]!
  }
  return env
}

/** Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME:?error} (an unset required one throws). */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const set = env[name] !== undefined && env[name] !== ''
    if (set) return env[name]!
    if (op === '?') throw new Error(`\${${name}} is required: ${arg}`)
    return op === '-' ? (arg ?? '') : ''
  })
}

/** The variables kagi's config schema reads: the keys of the zod object in src/config.ts. */
const configVariables = new Set([...read('src/config.ts').matchAll(/^ {2}([A-Z][A-Z0-9_]*): z\./gm)].map((m) => m[1]!))

const healthTest = (s: Service): string => (Array.isArray(s.healthcheck?.test) ? s.healthcheck.test.join(' ') : (s.healthcheck?.test ?? ''))

t.test('ok/postgres has a health check and keeps its data in a volume', async (t) => {
  const pg = services.postgres
  t.ok(pg, 'a postgres service')
  t.match(healthTest(pg!), /pg_isready/)
  t.equal(pg!.restart, 'unless-stopped')
  t.ok(pg!.volumes?.some((v) => /^[a-z-]+:\/var\/lib\/postgresql\/data$/.test(v)), 'a named volume, not a host folder')
})

t.test('ok/two kagi replicas built from the Dockerfile, never the checkout bind-mounted', async (t) => {
  t.equal(kagiReplicas.length, 2, `kagi-a and kagi-b: ${kagiReplicas.map(([n]) => n).join(', ')}`)
  for (const [name, s] of kagiReplicas) {
    t.equal((s.build as { context: string }).context, '.', `${name} builds the repository's Dockerfile`)
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0]!
      t.notOk(['.', './', '..'].includes(source) || source === root, `${name}: ${v} mounts no checkout`)
      t.notOk(v.split(':')[1] === '/app', `${name}: ${v} hides the built /app`)
    }
    t.notMatch(JSON.stringify([s.command ?? '', s.entrypoint ?? '']), /npm (ci|install)/, `${name} installs nothing at start`)
    t.equal(s.restart, 'unless-stopped', `${name} restarts`)
    t.match(healthTest(s), /\/readyz/, `${name}'s health check asks /readyz`)
    t.equal(s.depends_on?.postgres?.condition, 'service_healthy', `${name} waits for PostgreSQL`)
    const env = s.environment!
    t.equal(env.NODE_ENV, 'production')
    t.ok(env.KAGI_TRUST_PROXY, 'KAGI_TRUST_PROXY set')
    t.equal(env.KAGI_CA_PASSPHRASE_FILE, '/run/secrets/kagi_ca_passphrase', 'the passphrase comes from a file')
    t.notOk('KAGI_CA_PASSPHRASE' in env, 'never the passphrase itself')
    t.ok(s.secrets?.includes('kagi_ca_passphrase'))
    t.match(String(env.DATABASE_URL), /^postgres:\/\/.*@postgres:5432\//, 'PostgreSQL (two replicas cannot share an embedded database)')
  }
  const dataVolumes = kagiReplicas.map(([, s]) => s.volumes?.find((v) => v.endsWith(':/var/lib/kagi')))
  t.equal(new Set(dataVolumes).size, 2, 'each replica has its own data directory (CRL exports)')
  t.match(compose.secrets.kagi_ca_passphrase, { file: './deploy/secrets/ca-passphrase' })
})

t.test('ok/nginx terminates TLS in front of both replicas, and kagi trusts exactly its address', async (t) => {
  const nginx = services.nginx!
  t.ok(nginx.ports?.some((p) => /:443$/.test(p)), 'publishes 443')
  t.equal(nginx.restart, 'unless-stopped')
  for (const [name] of kagiReplicas) t.equal(nginx.depends_on?.[name]?.condition, 'service_healthy', `nginx waits for ${name}`)
  const conf = read('deploy/nginx/kagi.conf')
  t.match(conf, /listen 443 ssl;/)
  for (const [name] of kagiReplicas) t.match(conf, new RegExp(`server ${name}:3000`), `upstream ${name}`)
  for (const v of nginx.volumes ?? []) t.ok(existsSync(join(root, v.split(':')[0]!)) || v.startsWith('./deploy/tls:'), `${v}: its source exists (deploy/tls is made at set-up)`)
  const address = (nginx.networks as Record<string, { ipv4_address?: string }>).kagi?.ipv4_address
  t.ok(address, 'nginx has a fixed address')
  for (const [name, s] of kagiReplicas) t.equal(s.environment!.KAGI_TRUST_PROXY, address, `${name} trusts X-Forwarded-For from nginx only`)
  t.notOk(kagiReplicas.some(([, s]) => s.ports?.length), 'the replicas publish no port: clients reach them only through nginx')
})

t.test('ok/the trial IdP is SimpleSAMLphp, behind a profile', async (t) => {
  const idp = services.idp!
  t.same(idp.profiles, ['trial'], 'not started unless asked for')
  t.match(idp.build, { context: './deploy/simplesamlphp' })
  t.ok(existsSync(join(root, 'deploy/simplesamlphp/Dockerfile')))
  t.match(read('deploy/simplesamlphp/Dockerfile'), /apt-get install[^\n]*simplesamlphp[^\n]*php-xml/)
  t.ok(idp.ports?.every((p) => p.startsWith('127.0.0.1:')), 'published on loopback only (its users are in the README)')
})

t.test('ok/every variable a kagi replica gets is one kagi reads, and the whole set loads in production', async (t) => {
  const env = { ...envExample(), POSTGRES_PASSWORD: 'pg-password-from-dotenv', KAGI_METRICS_TOKEN: 'metrics-token-0123456789' }
  for (const [name, s] of kagiReplicas) {
    const unknown = Object.keys(s.environment!).filter((k) => !configVariables.has(k))
    t.same(unknown, [], `${name}: every variable is in src/config.ts`)
    const resolved = Object.fromEntries(Object.entries(s.environment!).map(([k, v]) => [k, interpolate(String(v ?? ''), env)]))
    const config = loadConfig(resolved)
    t.ok(config.production, `${name}: NODE_ENV=production`)
    t.ok(samlConfigured(config), `${name}: SAML configured from deploy/env.example (production requires it)`)
    t.same(config.trustProxy, ['172.31.240.10'])
    t.equal(config.publicUrl, 'https://localhost:8443')
  }
  t.throws(() => interpolate(String(kagiReplicas[0]![1].environment!.DATABASE_URL), {}), /POSTGRES_PASSWORD/, 'a missing password stops compose, not kagi')
})

t.test('ok/every ${VARIABLE} of docker-compose.yml is explained in deploy/env.example', async (t) => {
  const example = read('deploy/env.example')
  const used = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!))
  t.ok(used.size > 5)
  for (const name of used) t.match(example, new RegExp(`\\b${name}=`), `${name} in deploy/env.example`)
})

t.test('ok/the other services get only variables their images document', async (t) => {
  // postgres: the official image's; idp: deploy/simplesamlphp's config reads these.
  const known: Record<string, string[]> = {
    postgres: ['POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_PASSWORD', 'POSTGRES_PASSWORD_FILE', 'PGDATA'],
    idp: ['IDP_BASE_URL', 'KAGI_PUBLIC_URL', 'IDP_KEY_FILE', 'IDP_CERT_FILE', 'IDP_STATE_DIR'],
    nginx: [],
  }
  const idpConfig = ['config/config.php', 'metadata/saml20-idp-hosted.php', 'metadata/saml20-sp-remote.php'].map((f) => read(`deploy/simplesamlphp/${f}`)).join('\n')
  for (const name of known.idp!) t.ok(idpConfig.includes(`'${name}'`), `the IdP config reads ${name}`)
  for (const [name, s] of Object.entries(services)) {
    if (kagiReplicas.some(([n]) => n === name)) continue
    t.ok(known[name], `${name} is a known service`)
    for (const key of Object.keys(s.environment ?? {})) t.ok(known[name]?.includes(key), `${name}: ${key}`)
  }
})

t.test('ok/the Dockerfile: multi-stage on node:20-bookworm-slim, non-root, health check on /readyz', async (t) => {
  const dockerfile = read('Dockerfile')
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])
  t.same(froms, ['node:20-bookworm-slim', 'node:20-bookworm-slim'])
  t.match(dockerfile, /npm ci /)
  t.match(dockerfile, /npm run build/)
  t.match(dockerfile, /npm prune --omit=dev/)
  const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]!)
  t.ok(users.length > 0 && !['root', '0'].includes(users.at(-1)!), `runs as ${users.at(-1)}`)
  t.match(dockerfile, /^HEALTHCHECK [^\n]*\\\n[^\n]*\/readyz/m)
  t.match(dockerfile, /^CMD \["serve"\]/m)
  const ignore = read('.dockerignore').split('\n')
  for (const entry of ['node_modules', 'data', 'deploy/secrets', '.env', '.git']) t.ok(ignore.includes(entry), `.dockerignore: ${entry}`)
})

t.test('ok/nginx accepts deploy/nginx/kagi.conf as the compose service mounts it', async (t) => {
  const nginx = ['nginx', '/usr/sbin/nginx'].find(commandExists)
  if (!requireComponent(t, { name: 'nginx', available: nginx !== undefined, install: 'nginx' })) return
  // The image's layout under a temporary prefix: conf.d/default.conf, kagi/ (this folder), tls/.
  // Outside the compose network the replicas' names do not resolve: they become loopback addresses.
  const dir = tempDir(t).dir
  const conf = join(dir, 'conf')
  mkdirSync(join(conf, 'conf.d'), { recursive: true })
  mkdirSync(join(conf, 'tls'))
  symlinkSync(join(root, 'deploy/nginx'), join(conf, 'kagi'))
  const cert = run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(conf, 'tls/tls.key'), '-out', join(conf, 'tls/tls.crt')])
  t.equal(cert.status, 0, cert.stderr)
  writeFileSync(join(conf, 'conf.d/default.conf'), read('deploy/nginx/kagi.conf').replace(/server kagi-[ab]:3000/g, 'server 127.0.0.1:3000').replaceAll('/etc/nginx/tls/', `${conf}/tls/`))
  writeFileSync(join(conf, 'nginx.conf'), `pid ${dir}/nginx.pid;\nevents {}\nhttp {\n  include conf.d/default.conf;\n}\n`)
  const r = run(nginx!, ['-t', '-q', '-p', `${dir}/`, '-c', join(conf, 'nginx.conf'), '-e', 'stderr'])
  t.equal(r.status, 0, `nginx -t: ${r.stderr}`)
})
