import t from 'tap'
import { figure, meets } from '../../bench/results.js'
import { TARGETS } from '../../bench/targets.js'

// bench/results.ts decides what bench/results.json says about issue 15's targets: the ratio, and "met".
t.test('ratios and targets', async (t) => {
  const ocsp = figure({ id: 'ocsp-fresh', what: 'x', kagi: 6000, unit: 'responses/s', better: 'higher', peer: { name: 'openssl', value: 4000 }, target: TARGETS.ocspFresh })
  t.equal(ocsp.ratio, 1.5)
  t.equal(ocsp.met, true, '1.5x meets ">= 1.5x"')
  t.equal(figure({ id: 'o', what: 'x', kagi: 5999, unit: 'r/s', better: 'higher', peer: { name: 'p', value: 4000 }, target: TARGETS.ocspFresh }).met, false)

  const revocation = figure({ id: 'revocation-p99', what: 'x', kagi: 20, unit: 'ms', better: 'lower', target: TARGETS.revocationP99 })
  t.equal(revocation.met, false, '"< 20 ms" is strict')
  t.equal(revocation.ratio, null, 'no peer, no ratio')

  const crl = figure({ id: 'crl', what: 'x', kagi: 90, unit: 'ms', better: 'lower', peer: { name: 'openssl ca -gencrl', value: 400 }, target: TARGETS.crlAfterRevocation })
  t.equal(crl.ratio, 0.225)
  t.equal(crl.met, true, 'a time ratio under 1.5 meets "<= 1.5x"')

  const quick = figure({ id: 'revocation-p99-10k', what: 'x', kagi: 5, unit: 'ms', better: 'lower', target: TARGETS.revocationP99, targetApplies: false })
  t.equal(quick.met, null, 'a smaller case than the target is for says nothing about it')
  t.equal(quick.target, '< 20 ms')

  const never = figure({ id: 'first-start', what: 'x', kagi: Number.NaN, unit: 'ms', better: 'lower', target: TARGETS.firstStart, met: false })
  t.equal(never.kagi, null, 'no JSON number for a failed measurement')
  t.equal(never.met, false, 'a start that never became ready misses')

  t.equal(figure({ id: 'p', what: 'x', kagi: 1, unit: 'r/s', better: 'higher', peer: { name: 'p', value: 0 } }).ratio, null, 'a ratio over 0 is null')
  t.equal(figure({ id: 's', what: 'x', kagi: 48.9, unit: 'r/s', better: 'higher' }).met, null, 'no target, no verdict')
  t.ok(meets(TARGETS.peakRss, 249) && !meets(TARGETS.peakRss, 250))
  t.ok(meets(TARGETS.issuance, 0.05) && !meets(TARGETS.issuance, 0.0499))
})
