"""Generate data/recipients.csv: a synthetic, reproducible recipients file (seeded).

Why synthetic: the demo, tests and benchmarks need realistic rows without real people. Most
addresses are SES mailbox-simulator addresses (labelled ``success+0001@…`` so every row is
distinct and events can be matched), with some bounce/complaint/ooto/suppressionlist rows, a
few IDN-domain and example.com addresses, and a handful of deliberately bad rows (≤ 1 %) that
pre-flight must turn into ``invalid``/``skipped`` outcomes:

* ``not-an-email`` and ``missing-at.example.com`` (bad syntax), an empty email,
* a first name with CR/LF and a header after it (header injection),
* ``josé.ñandú@example.com`` (non-ASCII local part, which SES refuses),
* one exact duplicate of an earlier row (skipped as a duplicate).

Run: ``python data/make_recipients.py`` (writes data/recipients.csv next to this file).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROWS = 1200
SEED = 20261126
SIMULATOR = "simulator.amazonses.com"

FIRST = [
    "José", "Zoë", "Łukasz", "Øyvind", "Ana", "Björn", "Chloé", "Søren", "Małgorzata", "Ángel",
    "François", "Dmitrij", "Ines", "Noah", "Olivia", "Liam", "Emma", "Mateo", "Aiko", "Hiroshi",
    "Sofía", "Mia", "Jürgen", "Ayşe", "Çağla", "Nguyễn", "Renée", "Zoltán", "Þórunn", "Ewa",
    "太郎", "花子", "Priya", "Oluwaseun", "Siobhán", "Grzegorz", "Anaïs", "João", "Mário", "Lea",
]  # fmt: skip
LAST = [
    "García", "Müller", "Nowak", "Ødegård", "Silva", "Dubois", "Smith", "Jensen", "Kowalski",
    "Novák", "Öztürk", "山田", "佐藤", "Ivanov", "O'Brien", "Nguyen", "Schäfer", "Fernández",
    "Lindqvist", "Brown", "Rossi", "Hernández", "Kim", "Papadopoulos", "Dvořák", "Søndergaard",
]  # fmt: skip
CITIES = [
    "São Paulo", "Zürich", "Kraków", "Tromsø", "Málaga", "Köln", "Reykjavík", "Montréal",
    "東京", "Lisboa", "Praha", "İstanbul", "New York", "Łódź", "Göteborg", "Dublin", "Paris",
]  # fmt: skip
IDN_DOMAINS = ["bücher.example", "münchen.example", "例え.jp", "ñandú.example.com"]
KINDS = [("success", 0.86), ("bounce", 0.05), ("complaint", 0.03), ("ooto", 0.03),
         ("suppressionlist", 0.03)]  # fmt: skip
COLUMNS = ["email", "first_name", "last_name", "order_id", "amount", "currency", "city"]


def _row(rng: random.Random, index: int) -> dict[str, str]:
    kinds, weights = zip(*KINDS, strict=True)
    kind = rng.choices(kinds, weights)[0]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "email": f"{kind}+{index:04d}@{SIMULATOR}",
        "first_name": first,
        "last_name": last,
        "order_id": f"A-{100000 + index * 7:06d}",
        "amount": f"{rng.uniform(5, 500):.2f}",
        "currency": rng.choice(["EUR", "USD", "GBP", "NOK", "PLN", "JPY"]),
        "city": rng.choice(CITIES),
    }


def make_rows(rows: int = ROWS, seed: int = SEED) -> list[dict[str, str]]:
    """The rows of recipients.csv, deterministic for a given seed."""
    rng = random.Random(seed)
    out = [_row(rng, i + 1) for i in range(rows)]
    # A few real-looking, non-simulator addresses (IDN domains and example.com).
    for k, domain in enumerate(IDN_DOMAINS):
        out[100 + k * 97]["email"] = f"kunde{k + 1}@{domain}"
    for k in range(4):
        person = out[50 + k * 211]
        person["email"] = f"{person['order_id'].lower()}.customer@example.com"
    # Deliberately bad rows (pre-flight turns them into invalid/skipped outcomes).
    out[17]["email"] = "not-an-email"
    out[233]["email"] = "missing-at.example.com"
    out[402]["email"] = ""
    out[611]["first_name"] = "Eve\r\nBcc: attacker@example.com"
    out[809]["email"] = "josé.ñandú@example.com"
    out[1003] = dict(out[1002])  # exact duplicate: skipped, the first one is sent
    return out


def main() -> None:
    path = Path(__file__).with_name("recipients.csv")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(make_rows())
    print(f"wrote {path} ({ROWS} rows)")


if __name__ == "__main__":
    main()
