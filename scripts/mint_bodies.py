#!/usr/bin/env python3
"""Pre-made mint requests for scripts/loadtest.sh.

Every `POST /v1/tokens` needs a fresh challenge signed by an enrolled device key, and
wrk cannot sign. So this script makes the device key and, against a running issuer, asks
for N challenges (`POST /v1/challenges`), signs each challenge's `sign` text with Ed25519
exactly as `warrant mint --issuer` does, and writes one complete `POST /v1/tokens` body
per line. wrk then replays each line once (scripts/loadtest-mint.lua).

    mint_bodies.py keygen --out KEY            # prints ed25519/<hex> for the config
    mint_bodies.py bodies --url URL --key KEY --count N --out FILE [--humans alice,bob]

Body i is for the i-th human of --humans in turn (all enrolled with the same device key).

Needs the `cryptography` package (pip install cryptography). Standard library otherwise.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("mint_bodies.py: the Python package `cryptography` is missing: "
             "pip install cryptography (or run scripts/loadtest.sh --install)")

GRANT = {
    "audience": ["support-api"],
    "ttl": "10m",
    "allow": [{"resources": ["tickets/123/email_address"], "actions": ["read"]}],
}


def public_text(key):
    raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519/" + raw.hex()


def load_key(path):
    with open(path, encoding="ascii") as f:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f.read().strip()))


def keygen(args):
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    with open(args.out, "w", encoding="ascii") as f:
        f.write(seed.hex() + "\n")
    print(public_text(key))


def bodies(args):
    key = load_key(args.key)
    public = public_text(key)
    url = urllib.parse.urlsplit(args.url)
    humans = args.humans.split(",")
    lines = [None] * args.count
    failures = []
    next_index = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        while True:
            with lock:
                i = next_index[0]
                if i >= args.count or failures:
                    break
                next_index[0] = i + 1
            human = humans[i % len(humans)]
            conn.request("POST", "/v1/challenges", body=json.dumps({"human": human}).encode(),
                         headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            text = res.read()
            if res.status != 200:
                with lock:
                    failures.append(f"POST /v1/challenges: {res.status} {text[:200]!r}")
                break
            challenge = json.loads(text)
            signature = key.sign(challenge["sign"].encode()).hex()
            lines[i] = json.dumps({
                "human": human,
                "verification": {
                    "method": "device-key",
                    "public_key": public,
                    "nonce": challenge["nonce"],
                    "signature": signature,
                },
                "grant": GRANT,
            }, separators=(",", ":"))
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit("mint_bodies.py: " + failures[0])
    with open(args.out, "w", encoding="ascii") as f:
        for line in lines:
            f.write(line + "\n")
    took = time.monotonic() - started
    print(f"{args.count} signed challenges in {took:.1f} s "
          f"({args.count / took:.0f}/s, {args.workers} connections) -> {args.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--out", required=True)
    b = sub.add_parser("bodies")
    b.add_argument("--url", required=True)
    b.add_argument("--key", required=True)
    b.add_argument("--count", type=int, required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--humans", default="alice", help="comma-separated human ids, in turn")
    b.add_argument("--workers", type=int, default=4)
    args = p.parse_args()
    {"keygen": keygen, "bodies": bodies}[args.cmd](args)


if __name__ == "__main__":
    main()
