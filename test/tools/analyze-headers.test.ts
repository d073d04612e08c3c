import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeHeaders, type Hop } from "../../src/tools/analyze-headers.ts";
import { MAX_HEADER_CHARS, MAX_RECEIVED, parseReceived } from "../../src/tools/received-parse.ts";
import { findTls, normalizeTlsVersion, recordsTlsWhenUsed } from "../../src/tools/received-tls.ts";

const FIXTURE = new URL("../fixtures/received/hotmail-to-luxsci.eml", import.meta.url);

/** The one hop of a message made of this single Received line. */
function hopOf(received: string): Hop {
  const { hops } = analyzeHeaders(`${received}\nSubject: x\n\nbody\n`);
  assert.equal(hops.length, 1);
  const [hop] = hops;
  assert.ok(hop);
  return hop;
}

function pick(hop: Hop) {
  return { tls: hop.tls, tls_version: hop.tls_version, cipher: hop.cipher, evidence: hop.evidence };
}

test("the Hotmail → Proofpoint → LuxSci fixture: the conclusions its README gives", () => {
  const analysis = analyzeHeaders(readFileSync(FIXTURE));
  assert.deepEqual(
    analysis.hops.map((h) => [h.index, h.from, h.by, h.tls, h.tls_version, h.cipher]),
    [
      // inside the sender's provider; nothing about TLS: unknown
      [1, "BAY403-EAS373", "bay0-omc4-s14.bay0.outlook.com", "unknown", null, null],
      // between providers, nothing recorded, and Proofpoint records TLS when used
      [
        2,
        "bay0-omc4-s14.bay0.hotmail.com",
        "dispatch1-us1.ppe-hosted.com.ppe-hosted.com",
        "likely_plaintext",
        null,
        null,
      ],
      // sendmail's "TLSv1/SSLv3" names no single version: kept as written
      [3, "dispatch1-us1.ppe-hosted.com", "abc.luxsci.com", "tls", "TLSv1/SSLv3", "DHE-RSA-AES256-SHA"],
      [4, "localhost", "abc.luxsci.com", "internal", null, null],
      [5, "abc.luxsci.com", "abc.luxsci.com", "internal", null, null],
      [6, "abc.luxsci.com", "def.luxsci.com", "tls", "TLSv1/SSLv3", "DHE-RSA-AES256-SHA"],
    ],
  );
  assert.deepEqual(
    analysis.hops.map((h) => h.evidence),
    [
      "with Microsoft SMTPSVC: nothing about TLS recorded",
      "no TLS recorded; Proofpoint records TLS when it is used",
      "sendmail TLS comment (version= cipher=)",
      "local submission (sendmail)",
      "loopback address",
      "sendmail TLS comment (version= cipher=)",
    ],
  );
  assert.deepEqual(
    analysis.hops.map((h) => [h.from_ip, h.with, h.time]),
    [
      ["65.54.190.199", "Microsoft SMTPSVC", "2019-08-19T14:41:19.000Z"],
      ["65.54.190.216", null, "2019-08-19T14:41:18.000Z"],
      ["2.2.2.2", "ESMTP", "2019-08-19T14:41:19.000Z"],
      [null, null, "2019-08-19T14:41:20.000Z"],
      ["127.0.0.1", "ESMTP", "2019-08-19T14:41:20.000Z"],
      ["1.1.1.1", "ESMTP", "2019-08-19T14:41:21.000Z"],
    ],
  );
  // Overall: the Hotmail → Proofpoint hop shows no TLS; the rest is TLS or internal,
  // except the first hop inside Hotmail, which records nothing either way.
  assert.deepEqual(analysis.conclusion, {
    verdict: "gap",
    summary:
      "Hop 2 recorded no TLS although the receiving server records TLS when it is used: most likely " +
      "not encrypted. Hop 1 recorded nothing about TLS: whether encrypted is unknown. Every other hop " +
      "used TLS or stayed inside one host.",
    unprotected_hops: [2],
    unknown_hops: [1],
  });
  assert.equal(analysis.truncated, false);
});

test("a string, a Buffer, CRLF line ends and a bare header block give the same answer", () => {
  const lf = readFileSync(FIXTURE, "utf8");
  const expected = analyzeHeaders(lf);
  assert.deepEqual(analyzeHeaders(Buffer.from(lf)), expected);
  assert.deepEqual(analyzeHeaders(lf.replaceAll("\n", "\r\n")), expected);
  assert.deepEqual(analyzeHeaders(`\n\n${lf.slice(0, lf.indexOf("From:"))}`), expected);
  assert.deepEqual(analyzeHeaders(`From MAILER-DAEMON Mon Aug 19 10:41:21 2019\n${lf}`), expected);
});

test("sendmail: version= cipher= bits= verify=", () => {
  const hop = hopOf(
    "Received: from mail.sender.example (mail.sender.example [192.0.2.10])\n" +
      "\tby mx.receiver.example (8.15.2/8.15.2) with ESMTP id 483A0001\n" +
      "\t(version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NOT)\n" +
      "\tfor <a@receiver.example>; Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(hop), {
    tls: "tls",
    tls_version: "TLSv1.2",
    cipher: "ECDHE-RSA-AES256-GCM-SHA384",
    evidence: "sendmail TLS comment (version= cipher=)",
  });
  assert.deepEqual(
    [hop.from, hop.from_ip, hop.by, hop.with, hop.time],
    ["mail.sender.example", "192.0.2.10", "mx.receiver.example", "ESMTP", "2024-09-03T10:00:00.000Z"],
  );
});

test("sendmail: version=NONE says no TLS outright", () => {
  const hop = hopOf(
    "Received: from a.example (a.example [192.0.2.10]) by b.example (8.15.2/8.15.2) with ESMTP id 1 " +
      "(version=NONE); Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(hop), {
    tls: "likely_plaintext",
    tls_version: null,
    cipher: null,
    evidence: "no TLS recorded; the server wrote version=NONE",
  });
});

test("Postfix: (using TLSv1.x with cipher …), and ESMTP from Postfix means no TLS", () => {
  const tls = hopOf(
    "Received: from mail.sender.example (mail.sender.example [192.0.2.10])\n" +
      "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n" +
      "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n" +
      "\t(No client certificate requested)\n" +
      "\tby mx.receiver.example (Postfix) with ESMTPS id 4WzAbc1234;\n" +
      "\tTue,  3 Sep 2024 10:00:00 +0000 (UTC)",
  );
  assert.deepEqual(pick(tls), {
    tls: "tls",
    tls_version: "TLSv1.3",
    cipher: "TLS_AES_256_GCM_SHA384",
    evidence: "Postfix TLS comment (using … with cipher …)",
  });
  assert.equal(tls.with, "ESMTPS");
  assert.equal(tls.time, "2024-09-03T10:00:00.000Z");
  const older = hopOf(
    "Received: from a.example (a.example [192.0.2.10]) (using TLSv1 with cipher DHE-RSA-AES256-SHA " +
      "(256/256 bits)) by b.example (Postfix) with ESMTP id 1; Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.equal(older.tls_version, "TLSv1.0");
  const plain = hopOf(
    "Received: from a.example (a.example [192.0.2.10]) by b.example (Postfix) with ESMTP id 4WzAbc; " +
      "Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(plain), {
    tls: "likely_plaintext",
    tls_version: null,
    cipher: null,
    evidence: "no TLS recorded; Postfix writes ESMTPS when TLS is used",
  });
});

test("RFC 3848: ESMTPS and ESMTPSA record TLS, ESMTPA records its absence", () => {
  const line = (proto: string) =>
    `Received: from a.example ([192.0.2.1]) by b.example with ${proto} id 1; Tue, 3 Sep 2024 10:00:00 +0000`;
  assert.deepEqual(pick(hopOf(line("ESMTPS"))), {
    tls: "tls",
    tls_version: null,
    cipher: null,
    evidence: "RFC 3848 protocol ESMTPS",
  });
  assert.equal(hopOf(line("ESMTPSA")).evidence, "RFC 3848 protocol ESMTPSA");
  assert.equal(hopOf(line("UTF8SMTPS")).tls, "tls");
  assert.equal(hopOf(line("LMTPS")).tls, "tls");
  assert.deepEqual(pick(hopOf(line("ESMTPA"))), {
    tls: "likely_plaintext",
    tls_version: null,
    cipher: null,
    evidence: "no TLS recorded; protocol ESMTPA (RFC 3848) says authenticated without TLS",
  });
});

test("plain SMTP or ESMTP from a server not known to record TLS is unknown, not insecure", () => {
  for (const proto of ["ESMTP", "SMTP"]) {
    const hop = hopOf(
      `Received: from a.example (a.example [192.0.2.1]) by b.example with ${proto} id 1; Tue, 3 Sep 2024 10:00:00 +0000`,
    );
    assert.deepEqual(pick(hop), {
      tls: "unknown",
      tls_version: null,
      cipher: null,
      evidence: `with ${proto}: nothing about TLS recorded`,
    });
  }
  const analysis = analyzeHeaders(
    "Received: from a.example (a.example [192.0.2.1]) by b.example with ESMTP id 1; Tue, 3 Sep 2024 10:00:00 +0000\n",
  );
  assert.equal(analysis.conclusion.verdict, "unknown");
  assert.deepEqual(analysis.conclusion.unknown_hops, [1]);
  assert.deepEqual(analysis.conclusion.unprotected_hops, []);
});

test("Exchange: Microsoft SMTP Server (version=TLS1_2, cipher=…), (TLS), and nothing", () => {
  const hop = hopOf(
    "Received: from DM6PR11MB1234.namprd11.prod.outlook.com (2603:10b6:5:1a0::10)\n" +
      " by DM6PR11MB5678.namprd11.prod.outlook.com (2603:10b6:5:1b0::20) with\n" +
      " Microsoft SMTP Server (version=TLS1_2,\n" +
      " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7452.28; Tue, 3 Sep\n" +
      " 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(hop), {
    tls: "tls",
    tls_version: "TLSv1.2",
    cipher: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    evidence: "Exchange TLS comment (version= cipher=)",
  });
  assert.deepEqual(
    [hop.from_ip, hop.with, hop.time],
    ["2603:10b6:5:1a0::10", "Microsoft SMTP Server", "2024-09-03T10:00:00.000Z"],
  );
  const exchange2010 = hopOf(
    "Received: from mail.a.example (192.0.2.5) by mail.b.example (192.0.2.6) with Microsoft SMTP Server " +
      "(TLS) id 14.3.498.0; Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.equal(exchange2010.tls, "tls");
  assert.equal(exchange2010.evidence, "TLS comment ((TLS))");
  const plain = hopOf(
    "Received: from mail.a.example (192.0.2.5) by mail.b.example (192.0.2.6) with Microsoft SMTP Server " +
      "id 15.20.7452.28; Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(
    [plain.tls, plain.evidence],
    ["likely_plaintext", "no TLS recorded; Exchange records TLS when it is used"],
  );
  const mapi = hopOf(
    "Received: from DM6PR11MB1234.namprd11.prod.outlook.com ([fe80::1%4]) by " +
      "DM6PR11MB1234.namprd11.prod.outlook.com ([fe80::1%4]) with mapi id 15.20.7452.28; " +
      "Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual([mapi.tls, mapi.evidence], ["internal", "local submission (Exchange MAPI)"]);
});

test("Gmail: version=TLS1_3 cipher=… bits=, Google Transport Security, and plain ESMTP", () => {
  const hop = hopOf(
    "Received: from mail.sender.example (mail.sender.example. [192.0.2.10])\n" +
      "        by mx.google.com with ESMTPS id a1si1234567qkb.123.2024.09.03.03.00.00\n" +
      "        for <someone@gmail.example>\n" +
      "        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\n" +
      "        Tue, 03 Sep 2024 03:00:00 -0700 (PDT)",
  );
  assert.deepEqual(pick(hop), {
    tls: "tls",
    tls_version: "TLSv1.3",
    cipher: "TLS_AES_256_GCM_SHA384",
    evidence: "Gmail TLS comment (version= cipher=)",
  });
  assert.equal(hop.time, "2024-09-03T10:00:00.000Z");
  const internal = hopOf(
    "Received: from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\n" +
      "        by mx.google.com with SMTPS id x1sor1.2024.09.03.03.00.00\n" +
      "        (Google Transport Security);\n        Tue, 03 Sep 2024 03:00:00 -0700 (PDT)",
  );
  assert.deepEqual(pick(internal), {
    tls: "tls",
    tls_version: null,
    cipher: null,
    evidence: "Google Transport Security",
  });
  const plain = hopOf(
    "Received: from a.example (a.example. [192.0.2.10]) by mx.google.com with ESMTP id x1; " +
      "Tue, 03 Sep 2024 03:00:00 -0700",
  );
  assert.equal(plain.tls, "likely_plaintext");
  assert.equal(plain.evidence, "no TLS recorded; Google records TLS when it is used");
  const origin = hopOf(
    "Received: by 2002:a05:6a10:8f0a:b0:4a1:2b3c:4d5e with SMTP id x; Tue, 3 Sep 2024 03:00:00 -0700",
  );
  assert.deepEqual([origin.tls, origin.evidence], ["internal", "local origin: no sending host recorded"]);
});

test("Exim: (TLS1.2) tls cipher, (version:cipher:bits), X=, esmtp and local", () => {
  const modern = hopOf(
    "Received: from mail.sender.example ([192.0.2.10] helo=mail.sender.example)\n" +
      "\tby mx.receiver.example with esmtps  (TLS1.2) tls TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n" +
      "\t(Exim 4.96)\n\t(envelope-from <a@sender.example>)\n\tid 1sABCD-000123-4E\n" +
      "\tfor a@receiver.example; Tue, 03 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(modern), {
    tls: "tls",
    tls_version: "TLSv1.2",
    cipher: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    evidence: "Exim TLS fields ((version) tls cipher)",
  });
  assert.deepEqual(
    [modern.from, modern.from_ip, modern.with],
    ["mail.sender.example", "192.0.2.10", "esmtps"],
  );
  const older = hopOf(
    "Received: from [192.0.2.10] (helo=client.example) by mx.receiver.example with esmtps " +
      "(TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256) (Exim 4.89) id 1abc; Tue, 03 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(older), {
    tls: "tls",
    tls_version: "TLSv1.2",
    cipher: "ECDHE-RSA-AES256-GCM-SHA384",
    evidence: "Exim TLS comment (version:cipher:bits)",
  });
  assert.deepEqual([older.from, older.from_ip], ["client.example", "192.0.2.10"]);
  const logStyle = hopOf(
    "Received: from a.example ([192.0.2.10]) by b.example with esmtp " +
      "X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 id 1abc; Tue, 03 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(pick(logStyle), {
    tls: "tls",
    tls_version: "TLSv1.2",
    cipher: "ECDHE_RSA_AES_256_GCM_SHA384",
    evidence: "Exim TLS field (X=version:cipher)",
  });
  const plain = hopOf(
    "Received: from a.example ([192.0.2.10] helo=a.example) by b.example with esmtp (Exim 4.96) " +
      "(envelope-from <x@a.example>) id 1abc; Tue, 03 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual(
    [plain.tls, plain.evidence],
    ["likely_plaintext", "no TLS recorded; Exim writes esmtps when TLS is used"],
  );
  const local = hopOf(
    "Received: from user by host.example with local (Exim 4.96) (envelope-from <user@host.example>) " +
      "id 1abc; Tue, 03 Sep 2024 10:00:00 +0000",
  );
  assert.deepEqual([local.tls, local.evidence], ["internal", "local submission (Exim)"]);
});

test("internal hops: loopback, same host, local submission; a forged HELO is not internal", () => {
  const cases: [string, string][] = [
    [
      "Received: from localhost (localhost [127.0.0.1]) by mx.example (Postfix) with ESMTP id 1; Tue, 3 Sep 2024 10:00:00 +0000",
      "loopback address",
    ],
    [
      "Received: from localhost (localhost [IPv6:::1]) by mx.example (Postfix) with ESMTP id 1; Tue, 3 Sep 2024 10:00:00 +0000",
      "loopback address",
    ],
    ["Received: from mx.example by mx.example with LMTP id 1; Tue, 3 Sep 2024 10:00:00 +0000", "same host"],
    ["Received: from localhost by mx.example with SMTP; Tue, 3 Sep 2024 10:00:00 +0000", "localhost"],
    [
      "Received: by mx.example (Postfix, from userid 1000) id 4WzAbc; Tue, 3 Sep 2024 10:00:00 +0000",
      "local submission (Postfix pickup)",
    ],
    ["Received: (qmail 12345 invoked by uid 89); 3 Sep 2024 10:00:00 -0000", "local submission (qmail)"],
    [
      "Received: (from root@localhost) by mx.example (8.15.2/8.15.2/Submit) id 1; Tue, 3 Sep 2024 10:00:00 +0000",
      "local submission (sendmail)",
    ],
  ];
  for (const [line, evidence] of cases)
    assert.deepEqual(
      pick(hopOf(line)),
      {
        tls: "internal",
        tls_version: null,
        cipher: null,
        evidence,
      },
      line,
    );
  const forged = hopOf(
    "Received: from mx.receiver.example (unknown [203.0.113.9]) by mx.receiver.example with ESMTP id 1; " +
      "Tue, 3 Sep 2024 10:00:00 +0000",
  );
  assert.equal(forged.tls, "unknown");
  const onlyInternal = analyzeHeaders(`${cases[0]?.[0]}\n${cases[4]?.[0]}\n`);
  assert.equal(onlyInternal.conclusion.verdict, "internal_only");
});

test("a server that records TLS on one hop and nothing on another: that hop is likely plaintext", () => {
  const analysis = analyzeHeaders(
    [
      "Received: from c.example (c.example [192.0.2.3]) by mx.example (8.15.2/8.15.2) with ESMTP id 2",
      "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NO); Tue, 3 Sep 2024 10:01:00 +0000",
      "Received: from a.example (a.example [192.0.2.1]) by mx.example (8.15.2/8.15.2) with ESMTP id 1;",
      "\tTue, 3 Sep 2024 10:00:00 +0000",
      "",
    ].join("\n"),
  );
  assert.deepEqual(
    analysis.hops.map((h) => [h.tls, h.evidence]),
    [
      ["likely_plaintext", "no TLS recorded; this server records TLS on another hop"],
      ["tls", "sendmail TLS comment (version= cipher=)"],
    ],
  );
  assert.equal(analysis.conclusion.verdict, "gap");
  assert.deepEqual(analysis.conclusion.unprotected_hops, [1]);
});

test("every hop TLS: all_tls", () => {
  const analysis = analyzeHeaders(
    [
      "Received: from b.example (b.example [192.0.2.2]) by c.example with ESMTPS id 2; Tue, 3 Sep 2024 10:01:00 +0000",
      "Received: from localhost (localhost [127.0.0.1]) by b.example with ESMTP id 1; Tue, 3 Sep 2024 10:00:30 +0000",
      "Received: from a.example (a.example [192.0.2.1]) by b.example with ESMTPSA id 1; Tue, 3 Sep 2024 10:00:00 +0000",
    ].join("\n"),
  );
  assert.deepEqual(
    analysis.hops.map((h) => h.tls),
    ["tls", "internal", "tls"],
  );
  assert.equal(analysis.conclusion.verdict, "all_tls");
  assert.equal(
    analysis.conclusion.summary,
    "Every hop between hosts recorded TLS; the others stayed inside one host.",
  );
});

test("folded lines: a fold inside a comment or between version= and cipher= changes nothing", () => {
  const one =
    "Received: from a.example (a.example [192.0.2.1]) by b.example (8.15.2/8.15.2) with ESMTP id 1 " +
    "(version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NOT); Tue, 3 Sep 2024 10:00:00 +0000";
  const folded =
    "Received: from a.example\r\n (a.example\r\n\t[192.0.2.1])\r\n by b.example (8.15.2/8.15.2)\r\n" +
    "  with ESMTP id 1 (version=TLSv1.2\r\n\tcipher=ECDHE-RSA-AES256-GCM-SHA384\r\n bits=256 verify=NOT);\r\n" +
    "\tTue, 3 Sep 2024\r\n 10:00:00 +0000";
  assert.deepEqual(hopOf(folded), hopOf(one));
  assert.equal(hopOf(folded).cipher, "ECDHE-RSA-AES256-GCM-SHA384");
});

test("TLS version names are normalised; names of no single version are kept", () => {
  for (const [raw, want] of [
    ["TLSv1.2", "TLSv1.2"],
    ["TLS1_2", "TLSv1.2"],
    ["TLS1.2", "TLSv1.2"],
    ["tlsv1.3", "TLSv1.3"],
    ["TLSv1", "TLSv1.0"],
    ["TLS1_0", "TLSv1.0"],
    ["SSLv3", "SSLv3"],
    ["TLSv1/SSLv3", "TLSv1/SSLv3"],
  ])
    assert.equal(normalizeTlsVersion(raw ?? ""), want, raw);
});

test("garbage never throws: no Received lines give zero hops and the verdict unknown", () => {
  for (const input of [
    "",
    "\n\n\n",
    "not a message at all",
    "Subject: hello\n\nReceived: from a by b with ESMTPS; Tue, 3 Sep 2024 10:00:00 +0000\n",
    Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a, 0x0a]),
    "X-Received: from a by b with ESMTPS id 1; Tue, 3 Sep 2024 10:00:00 +0000\n",
  ]) {
    const analysis = analyzeHeaders(input);
    assert.deepEqual(analysis.hops, []);
    assert.equal(analysis.conclusion.verdict, "unknown");
    assert.equal(
      analysis.conclusion.summary,
      "No Received lines were found, so nothing can be said about TLS.",
    );
  }
  for (const line of [
    "Received:",
    "Received: ;;;((((",
    "Received: from",
    "Received: by [",
    'Received: from "unterminated by x',
    "Received: from a.example by b.example; 99 Foo 99999 99:99:99 +9999",
    "Received: from a.example by b.example; 1",
    "Received: (qmail 1 invoked from network); Tue, 3 Sep 2024 10:00:00 +0000",
    "Received: from a.example ([192.0.2.1]) by b.example with constructor; Tue, 3 Sep 2024 10:00:00 +0000",
    "Received: from a.example ([192.0.2.1]) by b.example with __proto__; Tue, 3 Sep 2024 10:00:00 +0000",
  ]) {
    const analysis = analyzeHeaders(line);
    assert.equal(analysis.hops.length, 1, line);
    assert.notEqual(analysis.hops[0]?.tls, "tls", line);
    assert.notEqual(analysis.conclusion.verdict, "all_tls", line);
  }
  assert.equal(analyzeHeaders("Received: from a.example by b.example; 1").hops[0]?.time, null);
  assert.equal(
    analyzeHeaders("Received: from a.example ([192.0.2.1]) by b.example with constructor").hops[0]?.evidence,
    "nothing about TLS recorded",
  );
});

test("header text that is not a host name or a protocol never reaches the output", () => {
  const hop = hopOf(
    "Received: from \x1b[31mevil\x1b[0m (x [192.0.2.1]) by b.example\x07 with ES\x1bMTP id 1; Tue, 3 Sep 2024 10:00:00 +0000",
  );
  // The claimed name is dropped; the name the receiver looked up stays.
  assert.equal(hop.from, "x");
  assert.equal(hop.by, null);
  assert.equal(hop.with, null);
  assert.doesNotMatch(JSON.stringify(hop), /\\u001b|\\u0007/);
  assert.equal(hop.from_ip, "192.0.2.1");
});

test("limits: 1 MB of headers, 100 Received lines, long and pathological lines", () => {
  const line = (i: number) =>
    `Received: from h${i}.example (h${i}.example [192.0.2.1]) by h${i + 1}.example with ESMTPS id ${i}; Tue, 3 Sep 2024 10:00:00 +0000`;
  const many = Array.from({ length: 150 }, (_, i) => line(149 - i)).join("\n");
  const capped = analyzeHeaders(many);
  assert.equal(capped.hops.length, MAX_RECEIVED);
  assert.equal(capped.truncated, true);
  // The newest lines are kept: the oldest hop read is the 100th from the top.
  assert.equal(capped.hops[0]?.by, "h51.example");
  assert.equal(capped.hops.at(-1)?.by, "h150.example");
  assert.match(capped.conclusion.summary, /at most 100 Received lines/);

  const filler = `X-Filler: ${"a".repeat(998)}\n`.repeat(Math.ceil(MAX_HEADER_CHARS / 1000) + 10);
  const huge = analyzeHeaders(`${line(1)}\n${filler}${line(2)}\n\nbody`);
  assert.equal(huge.hops.length, 1, "a Received line past the first 1 MB is not read");
  assert.equal(huge.truncated, true);

  const bigBody = analyzeHeaders(`${line(1)}\n\n${"x".repeat(3 * MAX_HEADER_CHARS)}`);
  assert.equal(bigBody.hops.length, 1);
  assert.equal(bigBody.truncated, false, "a large body is not a large header block");

  // Pathological lines (100 KB each) of the shapes the patterns look for: they return.
  const evil = [
    `Received: from ${"(".repeat(100_000)}`,
    `Received: from a ${"version=".repeat(12_500)}`,
    `Received: from a (using TLSv1.2 with cipher ${"A".repeat(100_000)}`,
    `Received: from a ${"(TLSv1.2:".repeat(11_000)}`,
    `Received: from a ${"[1".repeat(50_000)}`,
    `Received: from a by b; ${"1 ".repeat(50_000)}`,
    `Received: from a\n${" x\n".repeat(33_000)}`,
    `Received: from ${'"\\'.repeat(50_000)}`,
    `Received: from a (${"helo=".repeat(20_000)}`,
    `Received: from a ${"(TLS1.2) tls ".repeat(8_000)}`,
    `Received: from a ${"X=TLS1.2:".repeat(11_000)}`,
    `Received: from a ${"version=TLS1_2,".repeat(7_000)}`,
    `Received: from a ${"[IPv6:".repeat(17_000)}`,
    `Received: from a by b; ${"Mon, 1 Jan 2020 ".repeat(6_500)}`,
  ];
  for (const input of evil) {
    const analysis = analyzeHeaders(input);
    assert.equal(analysis.hops.length, 1);
    // Past the 8 KB cut-off too: the parser and the patterns on the whole 100 KB.
    const parsed = parseReceived(input.slice("Received:".length));
    assert.equal(typeof parsed.flat, "string");
    findTls(input, { protocol: input, by: input });
    recordsTlsWhenUsed(input, { protocol: input, by: input });
  }
});
