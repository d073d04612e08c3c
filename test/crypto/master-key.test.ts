import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type LoadedMasterKey,
  loadMasterKey,
  MasterKeyError,
  masterKeyId,
  parseMasterKey,
} from "../../src/crypto/master-key.ts";

const posix = process.platform !== "win32";
let root = "";
let counter = 0;

before(() => {
  root = mkdtempSync(join(tmpdir(), "sealpost-master-key-"));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A path under the temp root that does not exist yet. */
function freshDir(prefix = "case"): string {
  counter += 1;
  return join(root, `${prefix}-${counter}`);
}

function assertMasterKeyError(fn: () => unknown, setting: RegExp, secrets: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MasterKeyError, `expected MasterKeyError, got ${String(err)}`);
    assert.equal(err.name, "MasterKeyError");
    assert.match(err.message, setting);
    for (const secret of secrets) {
      if (secret.trim() !== "") assert.ok(!err.message.includes(secret.trim()), "message leaks the value");
    }
    return true;
  });
}

describe("loadMasterKey from SEALPOST_MASTER_KEY", () => {
  const key = randomBytes(32);
  const encodings = {
    hex: key.toString("hex"),
    HEX: key.toString("hex").toUpperCase(),
    base64: key.toString("base64"),
    "base64 unpadded": key.toString("base64").replace(/=$/, ""),
    base64url: key.toString("base64url"),
    "base64url padded": `${key.toString("base64url")}=`,
    "with whitespace": `  \n${key.toString("base64")}\n\t `,
  };
  for (const [name, value] of Object.entries(encodings)) {
    it(`accepts ${name}`, () => {
      const loaded = loadMasterKey({ value, dataDir: freshDir() });
      assert.deepEqual(loaded.key, key);
      assert.equal(loaded.source, "env");
      assert.equal(loaded.path, undefined);
      assert.equal(loaded.warning, undefined);
      assert.equal(loaded.keyId, masterKeyId(key));
    });
  }

  it("accepts base64 that uses + and / and base64url that uses - and _", () => {
    const k = Buffer.alloc(32, 0xfb); // encodes to "+/" runs
    assert.match(k.toString("base64"), /[+/]/);
    assert.deepEqual(parseMasterKey(k.toString("base64")), k);
    assert.deepEqual(parseMasterKey(k.toString("base64url")), k);
  });

  const bad = {
    empty: "",
    blank: "   ",
    garbage: "correct horse battery staple!!",
    "hex, 31 bytes": randomBytes(31).toString("hex"),
    "hex, 33 bytes": randomBytes(33).toString("hex"),
    "base64, 16 bytes": randomBytes(16).toString("base64"),
    "base64, 31 bytes": randomBytes(31).toString("base64"),
    "base64, 33 bytes": randomBytes(33).toString("base64"),
    "base64, 48 bytes": randomBytes(48).toString("base64"),
    "mixed base64 alphabets": `+_${randomBytes(32).toString("base64url").slice(2)}`,
    "non-canonical last character": `${Buffer.alloc(32).toString("base64").slice(0, 42)}B=`,
    "hex with 0x prefix": `0x${randomBytes(32).toString("hex")}`,
    "inner whitespace": `${randomBytes(32).toString("hex").slice(0, 32)} ${randomBytes(16).toString("hex")}`,
  };
  for (const [name, value] of Object.entries(bad)) {
    it(`rejects ${name}, naming the setting but not the value`, () => {
      const dataDir = freshDir();
      assertMasterKeyError(() => loadMasterKey({ value, dataDir }), /^SEALPOST_MASTER_KEY must be 32 bytes/, [
        value,
      ]);
      assert.throws(() => statSync(dataDir), { code: "ENOENT" }, "must not fall back to generating a key");
    });
  }

  it("refuses both SEALPOST_MASTER_KEY and SEALPOST_MASTER_KEY_FILE", () => {
    const value = key.toString("hex");
    assertMasterKeyError(
      () => loadMasterKey({ value, file: join(root, "whatever"), dataDir: freshDir() }),
      /SEALPOST_MASTER_KEY and SEALPOST_MASTER_KEY_FILE/,
      [value],
    );
  });
});

describe("loadMasterKey from SEALPOST_MASTER_KEY_FILE", () => {
  it("reads hex, base64 and base64url files with trailing newlines", () => {
    const key = randomBytes(32);
    for (const content of [
      `${key.toString("hex")}\n`,
      `${key.toString("base64")}\r\n`,
      key.toString("base64url"),
    ]) {
      const file = freshDir("key-file");
      writeFileSync(file, content, { mode: 0o644 });
      const loaded = loadMasterKey({ file, dataDir: freshDir() });
      assert.deepEqual(loaded.key, key);
      assert.equal(loaded.source, "file");
      assert.equal(loaded.path, file);
      assert.equal(loaded.warning, undefined, "mounted secrets are often 0644; no warning for them");
    }
  });

  it("names SEALPOST_MASTER_KEY_FILE when the file is missing", () => {
    assertMasterKeyError(
      () => loadMasterKey({ file: join(root, "does-not-exist"), dataDir: freshDir() }),
      /^SEALPOST_MASTER_KEY_FILE /,
      [],
    );
  });

  it("names SEALPOST_MASTER_KEY_FILE when the file is unreadable", () => {
    const dir = freshDir("a-directory");
    mkdirSync(dir);
    assertMasterKeyError(
      () => loadMasterKey({ file: dir, dataDir: freshDir() }),
      /^SEALPOST_MASTER_KEY_FILE /,
      [],
    );
    assertMasterKeyError(
      () => loadMasterKey({ file: "", dataDir: freshDir() }),
      /^SEALPOST_MASTER_KEY_FILE /,
      [],
    );
  });

  it("names SEALPOST_MASTER_KEY_FILE, not its content, when the content is wrong", () => {
    for (const content of [randomBytes(16).toString("hex"), "hunter2-hunter2-hunter2", ""]) {
      const file = freshDir("bad-key-file");
      writeFileSync(file, content);
      assertMasterKeyError(
        () => loadMasterKey({ file, dataDir: freshDir() }),
        /^SEALPOST_MASTER_KEY_FILE must contain 32 bytes/,
        [content],
      );
    }
  });
});

describe("loadMasterKey from the data directory", () => {
  it("generates a key on first start and reuses it afterwards", () => {
    const dataDir = join(freshDir(), "nested", "data");
    const first = loadMasterKey({ dataDir });
    assert.equal(first.source, "generated");
    assert.equal(first.path, join(dataDir, "master.key"));
    assert.equal(first.key.length, 32);
    assert.equal(first.warning, undefined);

    const content = readFileSync(join(dataDir, "master.key"), "utf8");
    assert.equal(content, `${first.key.toString("base64")}\n`);
    assert.deepEqual(readdirSync(dataDir), ["master.key"], "no temp files left behind");
    if (posix) {
      assert.equal(statSync(join(dataDir, "master.key")).mode & 0o777, 0o600);
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    }

    const second = loadMasterKey({ dataDir });
    assert.equal(second.source, "data-dir");
    assert.deepEqual(second.key, first.key);
    assert.equal(second.keyId, first.keyId);
    assert.equal(second.warning, undefined);
  });

  it("uses the injected random source", () => {
    const key = Buffer.alloc(32, 0x42);
    const loaded = loadMasterKey({ dataDir: freshDir(), random: () => Buffer.from(key) });
    assert.deepEqual(loaded.key, key);
  });

  it("keeps the key another process created first instead of overwriting it", () => {
    const dataDir = freshDir();
    const theirs = randomBytes(32);
    // The random source runs after the "no key yet" check and before the write: the
    // window in which a second process starting at the same moment writes its key.
    const loaded = loadMasterKey({
      dataDir,
      random: (n) => {
        mkdirSync(dataDir, { recursive: true });
        writeFileSync(join(dataDir, "master.key"), `${theirs.toString("base64")}\n`, { mode: 0o600 });
        return randomBytes(n);
      },
    });
    assert.deepEqual(loaded.key, theirs);
    assert.equal(loaded.source, "data-dir");
    assert.equal(readFileSync(join(dataDir, "master.key"), "utf8"), `${theirs.toString("base64")}\n`);
    assert.deepEqual(readdirSync(dataDir), ["master.key"], "no temp files left behind");
  });

  it("generates into an existing data directory without changing its mode", { skip: !posix }, () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const loaded = loadMasterKey({ dataDir });
    assert.equal(loaded.source, "generated");
    assert.equal(statSync(dataDir).mode & 0o777, 0o755);
  });

  it("loads a group/other-readable key file but warns about it", { skip: !posix }, () => {
    const dataDir = freshDir();
    const generated = loadMasterKey({ dataDir });
    const path = join(dataDir, "master.key");
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(path, mode);
      const loaded: LoadedMasterKey = loadMasterKey({ dataDir });
      assert.equal(loaded.source, "data-dir");
      assert.deepEqual(loaded.key, generated.key);
      assert.ok(loaded.warning !== undefined);
      assert.match(loaded.warning, /chmod 600/);
      assert.ok(loaded.warning.includes(mode.toString(8)));
      assert.ok(!loaded.warning.includes(generated.key.toString("base64")));
    }
  });

  it("accepts a hand-written hex key in the data directory", () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const key = randomBytes(32);
    writeFileSync(join(dataDir, "master.key"), `${key.toString("hex")}\n`, { mode: 0o600 });
    const loaded = loadMasterKey({ dataDir });
    assert.deepEqual(loaded.key, key);
    assert.equal(loaded.source, "data-dir");
  });

  it("refuses a corrupt data-dir key instead of replacing it", () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const path = join(dataDir, "master.key");
    writeFileSync(path, "truncated-key\n", { mode: 0o600 });
    assertMasterKeyError(() => loadMasterKey({ dataDir }), /master\.key must contain 32 bytes/, [
      "truncated-key",
    ]);
    assert.equal(readFileSync(path, "utf8"), "truncated-key\n");
  });
});

describe("masterKeyId", () => {
  it("is mk_ + 16 hex chars of sha256('sealpost-master-key-id\\0' + key)", () => {
    const key = Buffer.alloc(32, 1);
    const expected = createHash("sha256")
      .update(Buffer.concat([Buffer.from("sealpost-master-key-id\0"), key]))
      .digest("hex")
      .slice(0, 16);
    assert.equal(masterKeyId(key), `mk_${expected}`);
    assert.match(masterKeyId(key), /^mk_[0-9a-f]{16}$/);
  });

  it("is stable across loads and encodings and differs between keys", () => {
    const key = randomBytes(32);
    const a = loadMasterKey({ value: key.toString("hex"), dataDir: freshDir() });
    const b = loadMasterKey({ value: key.toString("base64url"), dataDir: freshDir() });
    assert.equal(a.keyId, b.keyId);
    assert.notEqual(masterKeyId(randomBytes(32)), a.keyId);
    assert.ok(!a.keyId.includes(key.toString("hex").slice(0, 16)));
  });
});
