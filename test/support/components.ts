import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** The part of a tap Test this module uses. */
export interface ComponentTest {
  fail: (message: string) => unknown
  /** tap 21 types `skip` as a skipped subtest (name, callback): that is how the skip is recorded. */
  skip: (name: string, cb: () => void) => unknown
  comment: (...message: unknown[]) => unknown
}

/** A system component (package, binary, browser) a test needs. */
export interface Component {
  /** Human name, e.g. "SimpleSAMLphp IdP". */
  name: string
  /** Whether it is usable on this machine. */
  available: boolean
  /** How to install it, e.g. "apt-get install -y chromium" (a bare package list gets the apt-get prefix). */
  install: string
}

function installCommand(install: string): string {
  return /^\s*(apt-get|apt|sudo|npm|pip|dnf|yum)\b/.test(install) ? install.trim() : `apt-get install -y ${install.trim()}`
}

/**
 * True when the component is usable. When it is not: in CI (`CI` set) the
 * test fails, naming the component and the install command; locally the test
 * records a skip ("skipped: <name> missing; install with: ...") and the caller
 * should return early.
 */
export function requireComponent(t: ComponentTest, component: Component): boolean {
  if (component.available) return true
  const install = installCommand(component.install)
  if (process.env.CI) {
    t.fail(`${component.name} missing (CI must have every component); install with: ${install}`)
  } else {
    const message = `skipped: ${component.name} missing; install with: ${install}`
    t.comment(message)
    t.skip(message, () => {})
  }
  return false
}

/** True when `cmd` is an executable file: a path as given, or a name found on PATH. Never runs a shell. */
export function commandExists(cmd: string): boolean {
  const executable = (path: string): boolean => {
    try {
      if (!statSync(path).isFile()) return false
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  }
  if (cmd.includes('/')) return executable(cmd)
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  return dirs.some((dir) => executable(join(dir, cmd)))
}
