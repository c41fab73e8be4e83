import { randomInt } from 'node:crypto'

// No 0/O, 1/l/I: the password is typed on phones from a screen.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'

/**
 * A one-time PKCS#12 password: four groups of five characters from a
 * 57-letter alphabet (about 116 bits), easy to read aloud and type.
 */
export function newPkcs12Password(): string {
  const groups: string[] = []
  for (let g = 0; g < 4; g++) {
    let group = ''
    for (let i = 0; i < 5; i++) group += ALPHABET[randomInt(ALPHABET.length)]
    groups.push(group)
  }
  return groups.join('-')
}
