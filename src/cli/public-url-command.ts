import { publicUrlSchema } from '../config.js'
import { loopbackWarning, setPublicUrl } from '../startup/public-url.js'
import { withRuntime, type ListedCommand } from './command.js'
import { out, UsageError, warn } from './output.js'

const keepAnswering = 'certificates already issued keep the URLs they were signed with, so the old URL should keep answering (the same kagi under both names, or a redirect) until they expire or are renewed'

/** `kagi ca set-public-url`: the only way to change the public URL once the CA stores one (startup/public-url.ts). */
export const setPublicUrlCommand: ListedCommand = {
  summary: `change the public URL stored with the CA, which certificates, bundles and SAML metadata name from now on (${keepAnswering})`,
  usage: 'kagi ca set-public-url URL',
  options: {},
  argument: { name: 'URL', help: 'the base URL devices, firewalls and the IdP reach kagi by, e.g. https://kagi.example.com' },
  example: 'kagi ca set-public-url https://kagi.example.com',
  // Its services, SAML metadata and routes were built from the URL it started with: changing them under it would be a partial change.
  notInServer: () => 'stop kagi serve, run this command, then start kagi serve again: the running server keeps the public URL it started with',
  run: (config, args) => {
    const parsed = publicUrlSchema.safeParse(args[0] ?? '')
    if (!parsed.success) throw new UsageError(`URL ${parsed.error.issues[0]!.message}`)
    const url = parsed.data
    // This command is how a KAGI_PUBLIC_URL that disagrees with the stored one is resolved, so it does not refuse one.
    return withRuntime(config, 'kagi ca set-public-url', async (runtime) => {
      const changed = await setPublicUrl(runtime.database.db, url, 'cli')
      if (!changed) throw new UsageError('no CA yet: the public URL is stored when the CA is created (`kagi ca init` or the first `kagi serve` take KAGI_PUBLIC_URL)')
      if (changed.from === url) {
        out(`the public URL is already ${url}`)
        return 0
      }
      out(`public URL changed from ${changed.from ?? '(none stored)'} to ${url}; audited as ca.public-url-changed`)
      out(`note: ${keepAnswering}`)
      out('restart every running kagi serve: each keeps the public URL it started with')
      if (config.publicUrlSet && config.publicUrl !== url) warn(`KAGI_PUBLIC_URL is ${config.publicUrl} here: set it to ${url} or unset it, or kagi will refuse to start`)
      const loopback = loopbackWarning({ ...config, publicUrl: url }, true)
      if (loopback) warn(loopback)
      return 0
    }, { anyPublicUrl: true })
  },
}
