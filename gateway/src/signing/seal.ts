import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../config';

/** The envelope's version tag: `kek1:<kid of the KEK>:<nonce>:<ciphertext and tag>`, all base64url. */
const VERSION = 'kek1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A key-encryption key and its kid: a short digest, so that a row names the KEK that sealed it without revealing it. */
interface Kek {
  kid: string;
  key: Buffer;
}

function kekOf(text: string): Kek {
  const key = Buffer.from(text, 'base64');
  return { kid: createHash('sha256').update('flexgate-kek\n').update(key).digest('base64url').slice(0, 11), key };
}

export const isSealed = (stored: string): boolean => stored.startsWith(`${VERSION}:`);

/**
 * Seals secrets stored in the database (the private JWKs of the signing keys and of the root key)
 * with AES-256-GCM under FLEXGATE_KEK: a random nonce per value, and the value's place (table,
 * column, row) as associated data, so that a sealed value copied onto another row does not open.
 * Without a KEK, values stay in clear, as before; `open` reads clear values whatever the KEK, so
 * that a database from before sealing, or from a start without a KEK, is sealed on the next start.
 * FLEXGATE_KEK_PREVIOUS is only ever read: what it sealed is sealed again under FLEXGATE_KEK.
 */
export class Sealer {
  private readonly current: Kek | undefined;
  private readonly readable: Kek[];

  constructor(kek: string | undefined, previous?: string | undefined) {
    this.current = kek === undefined ? undefined : kekOf(kek);
    this.readable = [kek, previous].filter((k) => k !== undefined).map(kekOf);
  }

  /** False: no FLEXGATE_KEK, values are stored in clear. */
  get sealing(): boolean {
    return this.current !== undefined;
  }

  seal(plain: string, place: string): string {
    if (!this.current) return plain;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
    cipher.setAAD(Buffer.from(place));
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, this.current.kid, nonce.toString('base64url'), sealed.toString('base64url')].join(':');
  }

  /** The clear value; a value this gateway cannot open stops it (ConfigError): it could not sign. */
  open(stored: string, place: string): string {
    if (!isSealed(stored)) return stored;
    const [, kid, nonceText, sealedText] = stored.split(':');
    const kek = this.readable.find((k) => k.kid === kid);
    if (!kek) {
      const [current, previous] = this.readable;
      const given = current ? `FLEXGATE_KEK is ${current.kid}${previous ? ` and FLEXGATE_KEK_PREVIOUS ${previous.kid}` : ''}` : '';
      throw new ConfigError([
        given
          ? `${place} is sealed with key-encryption key ${kid}, but ${given}: set FLEXGATE_KEK to the key that sealed it (SECURITY.md, rotating the KEK)`
          : `${place} is sealed with key-encryption key ${kid} and FLEXGATE_KEK is unset: set FLEXGATE_KEK to the key that sealed it`,
      ]);
    }
    const sealed = Buffer.from(sealedText ?? '', 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(nonceText ?? '', 'base64url'));
      decipher.setAAD(Buffer.from(place));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new ConfigError([`${place} does not open under key-encryption key ${kid}: it was altered, or copied from another row`]);
    }
  }

  /** Whether a stored value should be sealed again: in clear, or under a KEK other than FLEXGATE_KEK. */
  stale(stored: string): boolean {
    if (!this.current) return false;
    return !isSealed(stored) || stored.split(':')[1] !== this.current.kid;
  }
}
