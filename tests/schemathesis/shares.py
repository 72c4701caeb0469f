"""Share of the fuzzer's answers per status class, for each operation of the OpenAPI
description, read from Schemathesis' HAR report. Fails when an operation was never answered
with anything but 401, 403, 404 or 429: its handler's logic was then never reached.

    python3 shares.py answers.har openapi.json [EXCLUDED-PATH ...]
"""
import json
import re
import sys
from collections import Counter, defaultdict
from urllib.parse import urlsplit

CLASSES = ["2xx", "3xx", "400/422", "401/403", "404", "409", "415", "429", "other 4xx", "5xx"]
UNREACHED = {401, 403, 404, 429}


def status_class(status):
    if status in (400, 422):
        return "400/422"
    if status in (401, 403):
        return "401/403"
    if status in (404, 409, 415, 429):
        return str(status)
    if 200 <= status < 300:
        return "2xx"
    if 300 <= status < 400:
        return "3xx"
    if 500 <= status:
        return "5xx"
    return "other 4xx"


def templates(spec):
    out = []
    for path, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                out.append((method.upper(), path, pattern))
    return out


def main():
    har = json.load(open(sys.argv[1]))
    spec = json.load(open(sys.argv[2]))
    excluded = set(sys.argv[3:])
    ops = [o for o in templates(spec) if o[1] not in excluded]
    counts = defaultdict(Counter)
    seen = defaultdict(set)
    for entry in har["log"]["entries"]:
        method = entry["request"]["method"]
        path = urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        for m, template, pattern in ops:
            if m == method and pattern.match(path):
                counts[(m, template)][status_class(status)] += 1
                seen[(m, template)].add(status)
                break
    total = Counter()
    width = max(len(f"{m} {t}") for m, t, _ in ops)
    print(f"{'operation':<{width}} {'answers':>7} " + " ".join(f"{c:>9}" for c in CLASSES))
    unreached = []
    for m, template, _ in sorted(ops, key=lambda o: (o[1], o[0])):
        c = counts[(m, template)]
        n = sum(c.values())
        total.update(c)
        shares = " ".join(f"{(100 * c[k] / n if n else 0):>8.1f}%" for k in CLASSES)
        print(f"{m + ' ' + template:<{width}} {n:>7} {shares}")
        if not seen[(m, template)] - UNREACHED:
            unreached.append(f"{m} {template}")
    n = sum(total.values())
    print(f"{'all operations':<{width}} {n:>7} " + " ".join(f"{(100 * total[k] / max(n, 1)):>8.1f}%" for k in CLASSES))
    if unreached:
        print("never answered beyond 401/403/404/429 (the handler's logic was not reached):", file=sys.stderr)
        for op in unreached:
            print(f"  {op}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
