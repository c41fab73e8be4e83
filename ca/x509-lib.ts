import { webcrypto } from 'node:crypto'

/**
 * @peculiar/x509, loaded on first use: it is needed only to create or import
 * a CA and to print names, and loading it costs a quarter of a second that
 * `kagi serve` would otherwise spend before it is ready.
 */
export async function x509lib(): Promise<typeof import('@peculiar/x509')> {
  // Its dependency injection (tsyringe) needs the Reflect metadata polyfill loaded first.
  await import('reflect-metadata')
  const x509 = await import('@peculiar/x509')
  x509.cryptoProvider.set(webcrypto as Crypto)
  return x509
}
