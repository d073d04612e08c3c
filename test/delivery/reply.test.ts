import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { outcomeForReply } from "../../src/delivery/outcome.ts";
import { parseReply, sanitizeReplyText } from "../../src/delivery/reply.ts";

describe("reply sanitizing and classification", () => {
  test("drops tokens with '@' and anything inside <...>", () => {
    assert.equal(
      sanitizeReplyText("User <bob smith@example.org> unknown; bob@example.org (alice@x.y) not found"),
      "User unknown; not found",
    );
    assert.equal(sanitizeReplyText("rejected <unterminated bob@x"), "rejected");
    assert.equal(sanitizeReplyText("a\r\nb\tc\u0000d"), "a b c d");
  });

  test("keeps at most 200 characters", () => {
    assert.equal(sanitizeReplyText("x".repeat(1000)).length, 200);
  });

  test("parses code, enhanced status and multi-line text", () => {
    assert.deepEqual(parseReply("550 5.1.1 <pat@hospital.example>: Recipient address rejected"), {
      code: 550,
      enhanced: "5.1.1",
      text: "Recipient address rejected",
    });
    assert.deepEqual(parseReply("452-4.2.2 Mailbox full for\n452 4.2.2 jane@example.org try later"), {
      code: 452,
      enhanced: "4.2.2",
      text: "Mailbox full for try later",
    });
    assert.deepEqual(parseReply("250 ok"), { code: 250, enhanced: null, text: "ok" });
    assert.equal(parseReply("garbage"), null);
    assert.equal(parseReply(""), null);
  });

  test("classifies from the code: 4xx soft, 5xx hard", () => {
    const reply = (code: number) => ({ code, enhanced: null, text: "" });
    assert.deepEqual(
      [
        outcomeForReply(reply(421), null),
        outcomeForReply(reply(554), null),
        outcomeForReply(reply(250), null),
      ].map((o) => [o.kind, o.reason]),
      [
        ["soft_fail", "rejected_temporary"],
        ["hard_fail", "rejected_permanent"],
        ["soft_fail", "protocol_error"],
      ],
    );
  });
});
