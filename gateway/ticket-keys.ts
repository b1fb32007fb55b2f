/** The ticket signing key, from options (PEM or JWK, inline or in a file), or a fresh pair in development. */
import { readFile } from 'node:fs/promises'
import type { CryptoKey, JWK } from 'jose'
import { generateTicketKeys, importKeyJwk, importPrivateKeyPem } from '../core/tickets.ts'

export interface SigningKey {
  privateKey: CryptoKey
  kid: string
  /** Set when the pair was generated here: workers must be given it. */
  publicKey?: CryptoKey
}

/** Reads the key from `text` (PEM or JWK JSON), `file`, or generates one when neither is given. */
export async function loadSigningKey(source: { text?: string | undefined; file?: string | undefined; kid: string }): Promise<SigningKey> {
  const text = source.text ?? (source.file !== undefined ? await readFile(source.file, 'utf8') : undefined)
  if (text === undefined) {
    const pair = await generateTicketKeys()
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, kid: source.kid }
  }
  const trimmed = text.trim()
  const privateKey = trimmed.startsWith('{') ? await importKeyJwk(JSON.parse(trimmed) as JWK) : await importPrivateKeyPem(trimmed)
  return { privateKey, kid: source.kid }
}
