#!/usr/bin/python3
"""Debian's python3-dkim (dkimpy) verifying one DKIM signature of the message on stdin,
with public keys looked up on the test DNS server given as --dns HOST:PORT instead of the
system resolver. Prints "signature ok" and exits 0, or exits 1."""
import argparse
import sys

import dkim
import dns.resolver


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dns", required=True)
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args()
    host, port = args.dns.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port)

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout)
        except Exception:
            return None
        for rdata in answer:
            return b"".join(rdata.strings)
        return None

    message = sys.stdin.buffer.read()
    d = dkim.DKIM(message)
    if not d.verify(args.index, dnsfunc=dnsfunc):
        print("signature verification failed")
        sys.exit(1)
    print("signature ok")


if __name__ == "__main__":
    main()
