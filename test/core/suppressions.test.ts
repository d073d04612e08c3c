import assert from "node:assert/strict";
import { test } from "node:test";
import { isAddressFailure } from "../../src/core/suppressions.ts";

test("only failures of the address itself suppress it", () => {
  assert.equal(isAddressFailure(550, "5.1.1", "rejected_permanent"), true, "unknown user");
  assert.equal(isAddressFailure(550, "5.1.10", "rejected_permanent"), true, "null MX via reply");
  assert.equal(isAddressFailure(550, "5.2.1", "rejected_permanent"), true, "mailbox disabled");
  assert.equal(isAddressFailure(null, null, "null_mx"), true);
  assert.equal(isAddressFailure(550, "5.7.1", "rejected_permanent"), false, "policy");
  assert.equal(isAddressFailure(552, "5.3.4", "rejected_permanent"), false, "size");
  assert.equal(isAddressFailure(554, "5.6.0", "rejected_permanent"), false, "content");
  assert.equal(isAddressFailure(550, null, "rejected_permanent"), true, "bare 550");
  assert.equal(isAddressFailure(554, null, "rejected_permanent"), false, "bare 554");
});
