import { type AlgorithmInfo, type Key, readKeys } from "openpgp";
import { keyIdOf, refuse, sameAddress, type ValidatedKey } from "./key-facts.ts";

/**
 * OpenPGP public key checks (ADR 0010 §3): one armored public key (never a private one),
 * not revoked, not expired, with a user id that carries the address, an encryption-capable
 * (sub)key valid now, and strong algorithms: RSA of at least 2048 bits or ECC on
 * Curve25519/Ed25519, X448/Ed448 or NIST P-256 and above.
 */
const FIELD = "public_key";
const MIN_RSA_BITS = 2048;

const RSA = new Set(["rsaEncryptSign", "rsaEncrypt", "rsaSign"]);
/** Curve-specific algorithms of RFC 9580 and the curves of the ECDH/ECDSA/EdDSA-legacy ones. */
const MODERN: Readonly<Record<string, string>> = {
  x25519: "x25519",
  ed25519: "ed25519",
  x448: "x448",
  ed448: "ed448",
};
const CURVES: Readonly<Record<string, string>> = {
  curve25519Legacy: "curve25519",
  ed25519Legacy: "ed25519",
  nistP256: "ec-p256",
  nistP384: "ec-p384",
  nistP521: "ec-p521",
};

/** `rsa-3072`, `curve25519`, `ec-p256`, …; refuses weak or unsupported algorithms. */
function algorithmName(info: AlgorithmInfo): string {
  if (RSA.has(info.algorithm)) {
    if ((info.bits ?? 0) < MIN_RSA_BITS) throw refuse(FIELD, "The key's RSA size is shorter than 2048 bits.");
    return `rsa-${info.bits}`;
  }
  const modern = MODERN[info.algorithm];
  if (modern !== undefined) return modern;
  const curve = info.curve === undefined ? undefined : CURVES[info.curve];
  if (curve !== undefined && ["ecdh", "ecdsa", "eddsaLegacy"].includes(info.algorithm)) return curve;
  throw refuse(FIELD, "The key's algorithm is not supported (use RSA-2048 or more, or ECC).");
}

async function readPublicKey(text: string): Promise<Key> {
  if (/-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text))
    throw refuse(FIELD, "A private key was submitted; submit the public key only.");
  if (!text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----"))
    throw refuse(FIELD, "The key is not an armored OpenPGP public key.");
  let keys: Key[];
  try {
    keys = await readKeys({ armoredKeys: text });
  } catch (err) {
    throw refuse(FIELD, "The OpenPGP key cannot be read.", err);
  }
  const [key] = keys;
  if (key === undefined || keys.length !== 1) throw refuse(FIELD, "Submit exactly one OpenPGP key.");
  if (key.isPrivate()) throw refuse(FIELD, "A private key was submitted; submit the public key only.");
  return key;
}

/** Epoch ms of the earliest expiry of the primary key and the encryption key, or null. */
async function expiryOf(key: Key, encryption: Awaited<ReturnType<Key["getEncryptionKey"]>>) {
  const times = [await key.getExpirationTime()];
  if (encryption !== key) times.push(await encryption.getExpirationTime());
  const finite = times
    .filter((t): t is Date => t instanceof Date)
    .map((t) => t.getTime())
    .filter((t) => Number.isFinite(t));
  return finite.length === 0 ? null : Math.min(...finite);
}

export async function validatePgpKey(text: string, address: string, now: number): Promise<ValidatedKey> {
  const key = await readPublicKey(text.trim());
  const at = new Date(now);
  if (await key.isRevoked(undefined, undefined, at)) throw refuse(FIELD, "The key has been revoked.");
  const created = key.getCreationTime().getTime();
  if (now < created) throw refuse(FIELD, "The key is not valid yet.");
  const expires = await key.getExpirationTime();
  if (expires === null || (expires instanceof Date && now >= expires.getTime()))
    throw refuse(FIELD, "The key has expired.");
  if (!key.users.some((u) => u.userID !== null && sameAddress(u.userID.email, address)))
    throw refuse(FIELD, "No user id of the key carries this address.");
  // Before the encryption key: openpgp itself skips RSA keys below 2047 bits there.
  algorithmName(key.getAlgorithmInfo());
  let encryption: Awaited<ReturnType<Key["getEncryptionKey"]>>;
  try {
    encryption = await key.getEncryptionKey(undefined, at);
  } catch (err) {
    throw refuse(FIELD, "The key has no encryption key valid now.", err);
  }
  const algorithm = algorithmName(encryption.getAlgorithmInfo());
  const fingerprint = key.getFingerprint().toLowerCase();
  return {
    kind: "pgp",
    fingerprint,
    keyId: keyIdOf(fingerprint),
    algorithm,
    notAfter: await expiryOf(key, encryption),
    material: key.toPublic().armor(),
  };
}
