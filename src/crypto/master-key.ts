import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/schema.ts";
import type { RandomSource } from "../core/ids.ts";
import { KEY_BYTES } from "./aead.ts";

/**
 * The master key is the root of the key hierarchy: it wraps the per-org data keys and
 * nothing else. It comes from, in order:
 *
 * 1. `SEALPOST_MASTER_KEY` (passed here as `value`): 64 hex characters, or base64 /
 *    base64url of exactly 32 bytes; surrounding whitespace is ignored.
 * 2. `SEALPOST_MASTER_KEY_FILE` (`file`): a file holding the same formats.
 * 3. `<dataDir>/master.key`, created with 32 random bytes on first start.
 *
 * Setting both 1 and 2 is an error, as is setting either to an empty string: falling
 * back to a fresh key because of a blank variable would make existing data unreadable.
 */
export const MASTER_KEY_FILE_NAME = "master.key";

export interface MasterKey {
  readonly keyId: string;
  readonly key: Buffer;
}

export interface LoadedMasterKey extends MasterKey {
  readonly source: "env" | "file" | "generated" | "data-dir";
  /** The file the key was read from or written to; absent for `env`. */
  readonly path?: string;
  /** Set when the data-dir key file is readable by group or others; the key still loads. */
  readonly warning?: string;
}

export interface LoadMasterKeyOptions {
  /** The value of SEALPOST_MASTER_KEY, if set. */
  readonly value?: string;
  /** The value of SEALPOST_MASTER_KEY_FILE, if set. */
  readonly file?: string;
  readonly dataDir: string;
  /** For tests; defaults to crypto.randomBytes. */
  readonly random?: RandomSource;
}

/** A bad master key setting. The message names the setting, never the key. */
export class MasterKeyError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "MasterKeyError";
  }
}

const HEX_RE = /^[0-9a-fA-F]{64}$/;
const BASE64_RE = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]{43}=?$/;

/** Parses a key in hex, base64 or base64url; returns undefined for anything else. */
export function parseMasterKey(text: string): Buffer | undefined {
  const s = text.trim();
  if (HEX_RE.test(s)) return Buffer.from(s, "hex");
  const bare = s.replace(/=$/, "");
  const alphabet = BASE64_RE.test(s) ? "base64" : BASE64URL_RE.test(s) ? "base64url" : undefined;
  if (alphabet === undefined) return undefined;
  const key = Buffer.from(bare, alphabet);
  // 43 characters carry 258 bits; reject encodings whose 2 spare bits are not zero, so a
  // typo in the last character is caught rather than silently ignored.
  if (key.length !== KEY_BYTES || key.toString(alphabet).replace(/=$/, "") !== bare) return undefined;
  return key;
}

/** `mk_` + 16 hex chars: identifies a master key in logs and wrapped-key rows without revealing it. */
export function masterKeyId(key: Buffer): string {
  const digest = createHash("sha256").update("sealpost-master-key-id\0").update(key).digest("hex");
  return `mk_${digest.slice(0, 16)}`;
}

const FORMAT = "32 bytes as 64 hex characters or base64";

/** The master key as the validated settings name it (SEALPOST_MASTER_KEY[_FILE], else the data dir). */
export function loadConfiguredMasterKey(config: Config): LoadedMasterKey {
  return loadMasterKey({
    ...(config.masterKey === undefined ? {} : { value: config.masterKey }),
    ...(config.masterKeyFile === undefined ? {} : { file: config.masterKeyFile }),
    dataDir: config.dataDir,
  });
}

export function loadMasterKey(opts: LoadMasterKeyOptions): LoadedMasterKey {
  if (opts.value !== undefined && opts.file !== undefined) {
    throw new MasterKeyError("Set only one of SEALPOST_MASTER_KEY and SEALPOST_MASTER_KEY_FILE");
  }
  if (opts.value !== undefined) {
    const key = parseMasterKey(opts.value);
    if (key === undefined) throw new MasterKeyError(`SEALPOST_MASTER_KEY must be ${FORMAT}`);
    return { keyId: masterKeyId(key), key, source: "env" };
  }
  if (opts.file !== undefined) {
    if (opts.file.trim() === "") throw new MasterKeyError("SEALPOST_MASTER_KEY_FILE is empty");
    const text = readKeyFile(opts.file, "SEALPOST_MASTER_KEY_FILE");
    if (text === undefined) {
      throw new MasterKeyError("SEALPOST_MASTER_KEY_FILE names a file that does not exist");
    }
    const key = parseMasterKey(text);
    if (key === undefined) throw new MasterKeyError(`SEALPOST_MASTER_KEY_FILE must contain ${FORMAT}`);
    return { keyId: masterKeyId(key), key, source: "file", path: opts.file };
  }
  return loadOrCreateDataDirKey(opts.dataDir, opts.random ?? randomBytes);
}

function loadOrCreateDataDirKey(dataDir: string, random: RandomSource): LoadedMasterKey {
  const path = join(dataDir, MASTER_KEY_FILE_NAME);
  const existing = readDataDirKey(path);
  if (existing !== undefined) return existing;

  const key = random(KEY_BYTES);
  if (key.length !== KEY_BYTES) throw new MasterKeyError("random source returned the wrong number of bytes");
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new MasterKeyError("could not create the data directory for the master key", { cause: err });
  }
  const won = writeExclusiveAtomic(dataDir, path, `${key.toString("base64")}\n`);
  if (!won) {
    // Another process created the key between our read and our write: use theirs.
    const theirs = readDataDirKey(path);
    if (theirs === undefined) throw new MasterKeyError(`${path} disappeared while it was being created`);
    return theirs;
  }
  return { keyId: masterKeyId(key), key, source: "generated", path };
}

function readDataDirKey(path: string): LoadedMasterKey | undefined {
  const text = readKeyFile(path, path);
  if (text === undefined) return undefined;
  const key = parseMasterKey(text);
  // Never replace an unreadable key with a new one: that would orphan all encrypted data.
  if (key === undefined) throw new MasterKeyError(`${path} must contain ${FORMAT}`);
  const loaded: LoadedMasterKey = { keyId: masterKeyId(key), key, source: "data-dir", path };
  // Windows has no POSIX mode bits; statSync reports 0o666 for every writable file.
  const mode = process.platform === "win32" ? 0o600 : statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return loaded;
  const octal = mode.toString(8).padStart(4, "0");
  return {
    ...loaded,
    warning: `${path} is accessible to group or others (mode ${octal}); run chmod 600 on it`,
  };
}

/** Reads a key file; undefined if it does not exist. `name` is the setting or path for messages. */
function readKeyFile(path: string, name: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    throw new MasterKeyError(`${name} could not be read`, { cause: err });
  }
}

/**
 * Writes `content` to `path` with mode 0600 so that readers see either no file or the
 * whole file: temp file, fsync, then hard-link into place (fails if `path` already
 * exists, so two processes starting together cannot end up with different keys), then
 * fsync the directory. Falls back to rename where the file system has no hard links.
 * Returns false if another process created `path` first.
 */
function writeExclusiveAtomic(dir: string, path: string, content: string): boolean {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  try {
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    let won = true;
    try {
      linkSync(tmp, path);
    } catch (err) {
      const code = errorCode(err);
      if (code === "EEXIST") won = false;
      else if (code === "EPERM" || code === "ENOTSUP" || code === "ENOSYS" || code === "EOPNOTSUPP") {
        renameSync(tmp, path);
      } else throw err;
    }
    fsyncDir(dir);
    return won;
  } catch (err) {
    throw new MasterKeyError(`could not write ${path}`, { cause: err });
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed into place, or never created.
    }
  }
}

function fsyncDir(dir: string): void {
  // Directories cannot be opened for fsync on Windows; the rename is durable enough there.
  if (process.platform === "win32") return;
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") {
    return err.code;
  }
  return undefined;
}
