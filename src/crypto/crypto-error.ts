/**
 * A failure of a cryptographic operation: a wrong key, a tampered or truncated blob, a
 * bad version byte, or a caller passing a key of the wrong size. These mean a bug or
 * tampering, never bad user input, so they are plain errors rather than coded
 * `SealpostError`s and the HTTP layer reports them as `internal_error`.
 *
 * Messages are fixed texts: they never contain key material, plaintext or ciphertext.
 */
export class CryptoError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "CryptoError";
  }
}
