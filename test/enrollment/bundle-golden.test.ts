/**
 * Golden files: every bundle built from the committed fixture PKI
 * (fixtures/, made by fixtures/make-fixtures.ts) with a seeded random source
 * and a fixed time must equal test/enrollment/golden/<name> byte for byte.
 * A change to a builder shows up here as a readable diff.
 *
 * Regenerate after an intended change, then review `git diff`:
 *
 *   UPDATE_GOLDEN=1 npx tap test/enrollment/bundle-golden.test.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildBundle } from '../../enrollment/bundle.js'
import type { Platform, Credential } from '../../enrollment/bundle-types.js'
import { fixtureCredentials, fixturesDir, testSettings } from './fixtures/helpers.js'

const goldenDir = join(fixturesDir, '..', 'golden')
const update = Boolean(process.env.UPDATE_GOLDEN)
const { user, device } = fixtureCredentials()

const goldens: [name: string, platform: Platform, credential: Credential][] = [
  ['windows-user.ps1', 'windows', user],
  ['windows-device.ps1', 'windows', device],
  ['macos-user.mobileconfig', 'macos', user],
  ['macos-device.mobileconfig', 'macos', device],
  ['ios-user.mobileconfig', 'ios', user],
  ['chromeos-user.onc', 'chromeos', user],
  ['android-user.zip', 'android', user],
]

if (update) mkdirSync(goldenDir, { recursive: true })

for (const [name, platform, credential] of goldens) {
  t.test(name, async (t) => {
    // A fresh seeded settings object per build: the random stream restarts, so the bytes repeat.
    const body = buildBundle(platform, credential, testSettings()).body
    t.ok(body.equals(buildBundle(platform, credential, testSettings()).body), 'reproducible within the run')
    const file = join(goldenDir, name)
    if (update) {
      writeFileSync(file, body)
      t.comment(`UPDATE_GOLDEN: wrote ${file}`)
      return
    }
    const golden = readFileSync(file)
    if (name.endsWith('.zip')) t.ok(body.equals(golden), `${name} equals the golden file byte for byte`)
    else {
      // Compared as text first for a readable diff, then as bytes (BOM, CRLF).
      t.equal(body.toString('utf8'), golden.toString('utf8'), `${name} equals the golden file`)
      t.ok(body.equals(golden), 'byte for byte')
    }
  })
}
