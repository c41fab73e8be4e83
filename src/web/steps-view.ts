import { bundleInstructions, type InstructionOptions } from '../../enrollment/instructions.js'
import type { Platform } from '../../enrollment/bundle-types.js'
import type { EnrollmentProfile } from '../../profiles/index.js'
import { checkText } from './check-messages.js'
import { html, type Html, type PageContext } from './html.js'

/** The steps' options, and the "check my device" page (config.check.url) that ends each list when it is on. */
export type StepOptions = InstructionOptions & { checkUrl?: string }

/** Where kagi serves its CA certificates (src/routes/pki.ts), for the steps that ask the user to import them. */
export function caCertificateUrls(publicUrl: string): NonNullable<InstructionOptions['caCertificates']> {
  return { root: `${publicUrl}/pki/root.crt`, issuing: `${publicUrl}/pki/issuing.crt` }
}

/** Text with each occurrence of one of `urls` made a link (the steps are plain text, shared with the bundles' INSTALL.txt). */
function linked(text: string, urls: readonly string[]): Html | string {
  const found = urls.map((url) => ({ url, at: text.indexOf(url) })).filter((u) => u.at >= 0).sort((a, b) => a.at - b.at)[0]
  if (!found) return text
  return html`${text.slice(0, found.at)}<a href="${found.url}">${found.url}</a>${linked(text.slice(found.at + found.url.length), urls)}`
}

/** The installation steps for a platform as an ordered list, with the CA certificate downloads (and the check page) as links. */
export function stepList(ctx: PageContext, platform: Platform, kind: EnrollmentProfile, options: StepOptions): Html {
  const urls = options.caCertificates ? [options.caCertificates.root, options.caCertificates.issuing] : []
  const steps = [...bundleInstructions(platform, kind, ctx.lang, options)]
  // A browser never offers a machine certificate, so its list ends by saying where to look instead.
  if (options.checkUrl) steps.push(checkText(ctx.lang, kind === 'device' ? 'stepCheckMachine' : 'stepCheck', { url: options.checkUrl }))
  return html`<ol>${steps.map((step) => html`<li>${linked(step, options.checkUrl ? [...urls, options.checkUrl] : urls)}</li>`)}</ol>`
}
