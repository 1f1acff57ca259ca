/**
 * How a client treats message stream encryption (MSE/PE), as `--encryption` says:
 * - `prefer` (default): accept plain and encrypted connections; dial encrypted (offering RC4 or
 *   plaintext after the encrypted header), and dial the same address again in plain BitTorrent
 *   at once if the encrypted handshake fails (a client that does not speak MSE closes it); if the
 *   peer closes that plain handshake, encrypted again after a backoff (see `PeerPool.plainFailed`);
 * - `require`: encrypted only, RC4 only, both ways: a plain incoming handshake is refused;
 * - `disable`: plain only: an encrypted incoming handshake is refused, nothing is dialled encrypted.
 */
export type EncryptionPolicy = 'prefer' | 'require' | 'disable';
export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['prefer', 'require', 'disable'];
export const DEFAULT_ENCRYPTION_POLICY: EncryptionPolicy = 'prefer';

/**
 * How one connection is dialled: `none` plain BitTorrent; `prefer` MSE offering RC4 and plaintext;
 * `require` MSE offering RC4 only.
 */
export type DialEncryption = 'none' | 'prefer' | 'require';

/** What a dial uses under `policy`; `plainRetry`: the encrypted attempt to this address failed. */
export function dialEncryption(policy: EncryptionPolicy, plainRetry: boolean): DialEncryption {
  if (policy === 'disable') return 'none';
  if (policy === 'require') return 'require';
  return plainRetry ? 'none' : 'prefer';
}

/** What a connection ended up using, as events and the peer view show it. */
export type ConnectionEncryption = 'rc4' | 'plaintext' | 'none';
