import { randomBytes, randomInt } from 'node:crypto'
import forge from 'node-forge'
import t from 'tap'
import { pkcs12Kdf } from '../../enrollment/pkcs12-kdf.js'

// enrollment/pkcs12-kdf.ts against node-forge's implementation of the same RFC 7292 Appendix B.2 KDF (the one kagi
// used before, whose files openssl, GnuTLS, NSS, Java, macOS and Windows accept), for random inputs and the edge cases.

function forgeKdf(password: string, salt: Buffer, id: 1 | 2 | 3, iterations: number, length: number): Buffer {
  return Buffer.from(forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString('binary')), id, iterations, length).getBytes(), 'binary')
}

t.test('the same bytes as node-forge for every id, key, IV and MAC length, and iteration counts around the block edges', async (t) => {
  const cases: [string, Buffer, 1 | 2 | 3, number, number][] = [
    ['abcd-efgh-jkmn-pqrs-tuvw', Buffer.alloc(8, 7), 1, 2048, 24],
    ['abcd-efgh-jkmn-pqrs-tuvw', Buffer.alloc(8, 7), 2, 2048, 8],
    ['abcd-efgh-jkmn-pqrs-tuvw', Buffer.alloc(20, 1), 3, 2048, 20],
    ['', randomBytes(8), 1, 2048, 24],
    ['', randomBytes(8), 3, 1, 20],
    ['x', Buffer.alloc(0), 1, 1, 40],
    ['ünïcødé パスワード', randomBytes(16), 1, 3, 64],
  ]
  for (let i = 0; i < 40; i++) {
    const password = Array.from({ length: randomInt(0, 70) }, () => String.fromCharCode(randomInt(32, 0x3000))).join('')
    cases.push([password, randomBytes(randomInt(0, 70)), ([1, 2, 3] as const)[randomInt(0, 3)]!, randomInt(1, 40), randomInt(1, 90)])
  }
  for (const [password, salt, id, iterations, length] of cases) {
    t.same(pkcs12Kdf(password, salt, id, iterations, length).toString('hex'), forgeKdf(password, salt, id, iterations, length).toString('hex'), `password of ${password.length}, salt of ${salt.length}, id ${id}, ${iterations} iterations, ${length} bytes`)
  }
})
