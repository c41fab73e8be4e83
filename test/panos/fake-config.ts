/**
 * Candidate and running configuration of the PAN-OS test double, and its
 * commit jobs (reference §1.9, §1.13). Every write is kept as an operation
 * tagged with its administrator; the candidate is the running configuration
 * with the pending operations replayed (stamped), so a partial commit for one
 * administrator moves exactly that administrator's operations to running and
 * leaves the others pending, as PAN-OS 8.0+ does.
 */
import { cloneElement, element, escapeXml, type XmlElement } from '../../src/panos/xml.js'
import { ensurePath, FakeError, merge, referenceErrors, remove, replace, stamp, validateWrite, type Step } from './fake-tree.js'

/** One write, as the double keeps it. */
export interface Operation {
  admin: string
  action: 'set' | 'edit' | 'delete'
  steps: Step[]
  /** For set: the children to merge; for edit: the node. */
  nodes: XmlElement[]
}

/** A commit job. */
interface Job {
  id: number
  user: string
  operations: Operation[]
  polls: number
  status: 'ACT' | 'FIN'
  result: 'PEND' | 'OK' | 'FAIL'
  details: string[]
  failLines?: string[]
}

const now = () => new Date().toISOString().replace('T', ' ').slice(0, 19).replace(/-/g, '/')

function applyOperation(root: XmlElement, op: Operation, dirtyId?: number): void {
  if (op.action === 'delete') {
    remove(root, op.steps)
    return
  }
  const chain = ensurePath(root, op.action === 'set' ? op.steps : op.steps.slice(0, -1))
  const touched = op.action === 'set' ? merge(chain[chain.length - 1]!, op.nodes) : [replace(root, op.steps, op.nodes[0]!)]
  if (dirtyId !== undefined) stamp([...chain.slice(1), ...touched], op.admin, dirtyId, now())
}

/** The double's two configurations and its job queue. */
export class FakeConfig {
  running: XmlElement
  candidate: XmlElement
  pending: Operation[] = []
  /** Show-jobs polls a commit job stays ACT before it finishes. */
  commitPolls = 2
  /** When dangling references are refused: at commit (default) or already at write time (reference §1.13: UNCONFIRMED which). */
  referenceCheck: 'commit' | 'write' = 'commit'
  /** Lines of the next commit failure (injected). */
  nextCommitFailure?: string[]
  private jobs = new Map<number, Job>()
  private nextJob = 1

  constructor(initial: XmlElement) {
    this.running = cloneElement(initial)
    this.candidate = cloneElement(initial)
  }

  private replay(base: XmlElement, operations: readonly Operation[], stamped: boolean): XmlElement {
    const root = cloneElement(base)
    operations.forEach((op, i) => {
      try {
        applyOperation(root, op, stamped ? i + 1 : undefined)
      } catch {
        // an operation that no longer applies (its target was committed away) is dropped from the view
      }
    })
    return root
  }

  /**
   * Applies writes to the candidate. Each is validated; on a failure the
   * batch stops: with `strict` nothing of it stays, otherwise the writes
   * before the failing one stay (multi-config semantics, reference §1.4).
   */
  write(operations: readonly Operation[], strict = true): void {
    const accepted: Operation[] = []
    let failure: unknown
    for (const op of operations) {
      const trial = this.replay(this.running, [...this.pending, ...accepted], true)
      try {
        applyOperation(trial, op, this.pending.length + accepted.length + 1)
        validateWrite(trial)
        const dangling = this.referenceCheck === 'write' ? referenceErrors(trial) : []
        if (dangling.length) throw new FakeError(12, dangling)
        accepted.push(op)
      } catch (error) {
        failure = error
        break
      }
    }
    if (!failure || !strict) {
      this.pending.push(...accepted)
      this.candidate = this.replay(this.running, this.pending, true)
    }
    if (failure) throw failure
  }

  /** Enqueues a commit of the given administrators' operations (all when undefined); undefined when there is nothing to commit. */
  enqueueCommit(user: string, admins: string[] | undefined): number | undefined {
    const operations = this.pending.filter((op) => !admins || admins.includes(op.admin))
    if (!operations.length) return undefined
    const job: Job = { id: this.nextJob++, user, operations, polls: 0, status: 'ACT', result: 'PEND', details: [], failLines: this.nextCommitFailure }
    this.nextCommitFailure = undefined
    this.jobs.set(job.id, job)
    return job.id
  }

  private finish(job: Job): void {
    const next = this.replay(this.running, job.operations, false)
    const errors = referenceErrors(next)
    job.status = 'FIN'
    if (job.failLines || errors.length) {
      job.result = 'FAIL'
      job.details = job.failLines ?? ['Validation Error:', ...errors, 'Commit failed']
      return
    }
    job.result = 'OK'
    job.details = ['Configuration committed successfully']
    this.running = next
    this.pending = this.pending.filter((op) => !job.operations.includes(op))
    this.candidate = this.replay(this.running, this.pending, true)
  }

  /** `show jobs id N`: the job as XML (it advances one poll), or undefined when unknown. */
  showJob(id: number): string | undefined {
    const job = this.jobs.get(id)
    if (!job) return undefined
    if (job.status === 'ACT' && ++job.polls >= this.commitPolls) this.finish(job)
    const progress = job.status === 'FIN' ? 100 : Math.min(99, Math.round((100 * job.polls) / this.commitPolls))
    const lines = job.details.map((l) => `<line>${escapeXml(l)}</line>`).join('')
    return (
      `<job><tenq>${now()}</tenq><id>${job.id}</id><user>${escapeXml(job.user)}</user><type>Commit</type><status>${job.status}</status>` +
      `<queued>NO</queued><stoppable>no</stoppable><result>${job.result}</result><tfin>${job.status === 'FIN' ? now() : 'Still Active'}</tfin>` +
      `<description/><positionInQ>0</positionInQ><progress>${progress}</progress><details>${lines}</details><warnings/></job>`
    )
  }
}

/** A minimal firewall configuration with one vsys, a portal (with one agent configuration, `gp-agent`) and a gateway. */
export function defaultFirewallConfig(portal = 'gp-portal', gateway = 'gp-gateway'): XmlElement {
  // reference §1.8: agent configurations are client-config/configs/entry; `gateways` stands for their other settings.
  const agent = element('client-config', {}, [element('configs', {}, [element('entry', { name: 'gp-agent' }, [element('gateways', {}, [])])])])
  const gp = element('global-protect', {}, [
    element('global-protect-portal', {}, [element('entry', { name: portal }, [element('portal-config', {}, [element('local-address', {}, [element('interface', {}, ['ethernet1/1'])])]), agent])]),
    element('global-protect-gateway', {}, [element('entry', { name: gateway }, [element('tunnel-mode', {}, ['yes'])])]),
  ])
  const vsys = element('vsys', {}, [element('entry', { name: 'vsys1' }, [gp])])
  return element('config', { version: '11.1.0' }, [element('shared', {}, []), element('devices', {}, [element('entry', { name: 'localhost.localdomain' }, [vsys])])])
}
