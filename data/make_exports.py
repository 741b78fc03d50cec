"""Generate two real-shaped exports of synthetic people: a Mailchimp audience export and a
Shopify customers export (seeded, reproducible).

Why: a newcomer's file is rarely ``email,first_name``. These carry the column names and
value shapes the two tools write (Mailchimp's ``Email Address`` beside a postal ``Address``
whose parts are separated by two spaces; Shopify's ``Email`` beside ``Default Address …``
columns and customers with a phone but no email), so the CSV picker, the dry run's plan and
the notebooks are tried on what people actually export. Every person, address and phone
number is made up (``example.com``/``example.org``/``example.net`` domains, 555 numbers).

Deliberately awkward rows, as real lists have them:

* Mailchimp: row 9 repeats row 3's address in other letter case (``Dmitrij.Silva3@example.Net``
  / ``dmitrij.silva3@example.net``: one mailbox, which SES would mail twice); row 21 has
  ``bo.smith@example`` (no top-level domain); row 33 ``joão.rossi33@example.org`` (a non-ASCII
  local part, which SES refuses); row 40 has an empty ``First Name``.
* Shopify: rows 5 and 17 have no email (phone-only customers); row 12 has ``chloe.dubois@
  example.org `` with a trailing space; row 30 is an exact duplicate of row 2's address.

Run: ``python data/make_exports.py`` (writes ``mailchimp_audience_export.csv`` and
``shopify_customers_export.csv`` next to this file).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 20261206
FIRST = ["Ana", "Bo", "Chloé", "Dmitrij", "Emma", "François", "Grzegorz", "Hiroshi", "Ines",
         "João", "Kai", "Lea", "Mateo", "Noah", "Olivia", "Priya", "Renée", "Søren", "Zoë",
         "Aiko", "Björn", "Çağla", "Liam", "Mia"]  # fmt: skip
LAST = ["Garcia", "Smith", "Dubois", "Ivanov", "Brown", "Müller", "Nowak", "Sato", "Silva",
        "Rossi", "Jensen", "Kim", "Fernández", "Lindqvist", "O'Brien", "Novák"]  # fmt: skip
STREETS = ["Main St", "Rue de la Paix", "Hauptstraße", "Elm Avenue", "Rua Augusta", "Oak Lane"]
CITIES = [("Springfield", "IL", "62701", "US"), ("Paris", "", "75002", "FR"),
          ("Berlin", "", "10115", "DE"), ("Lisboa", "", "1100-048", "PT"),
          ("Portland", "OR", "97201", "US"), ("Toronto", "ON", "M5V 2T6", "CA")]  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net"]

MAILCHIMP = ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday",
             "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP",
             "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION",
             "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS"]  # fmt: skip
SHOPIFY = ["Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
           "Default Address Company", "Default Address Address1", "Default Address Address2",
           "Default Address City", "Default Address Province Code",
           "Default Address Country Code", "Default Address Zip", "Default Address Phone",
           "Phone", "Accepts SMS Marketing", "Total Spent", "Total Orders", "Note",
           "Tax Exempt", "Tags"]  # fmt: skip


def _ascii(name: str) -> str:
    table = str.maketrans("éçğüáøöëã", "ecguaooea")
    return name.lower().translate(table).replace("'", "")


def _person(rng: random.Random, i: int) -> dict[str, str]:
    first, last = FIRST[i % len(FIRST)], rng.choice(LAST)
    city, region, zip_, country = rng.choice(CITIES)
    return {
        "first": first, "last": last, "city": city, "region": region, "zip": zip_,
        "country": country, "street": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
        "email": f"{_ascii(first)}.{_ascii(last)}{i}@{rng.choice(DOMAINS)}",
        "phone": f"+1 555 01{rng.randint(0, 99):02d} {rng.randint(0, 9999):04d}",
    }  # fmt: skip


def mailchimp(rng: random.Random, rows: int = 54) -> list[dict[str, str]]:
    out = []
    for i in range(rows):
        p = _person(rng, i)
        day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        birthday = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}"
        out.append({
            "Email Address": p["email"], "First Name": p["first"], "Last Name": p["last"],
            "Address": "  ".join(x for x in (p["street"], p["city"], p["region"], p["zip"],
                                              p["country"]) if x),
            "Phone Number": p["phone"], "Birthday": birthday,
            "MEMBER_RATING": str(rng.randint(1, 5)), "OPTIN_TIME": f"{day} 09:{i % 60:02d}:12",
            "OPTIN_IP": f"203.0.113.{i + 1}", "CONFIRM_TIME": f"{day} 09:{i % 60:02d}:48",
            "CONFIRM_IP": f"203.0.113.{i + 1}", "LATITUDE": "", "LONGITUDE": "", "GMTOFF": "",
            "DSTOFF": "", "TIMEZONE": "", "CC": p["country"], "REGION": p["region"],
            "LAST_CHANGED": f"{day} 10:00:00", "LEID": str(100000 + i),
            "EUID": f"{rng.getrandbits(40):010x}", "NOTES": "",
            "TAGS": rng.choice(['"newsletter"', '"customer","newsletter"', ""]),
        })  # fmt: skip
    out[9]["Email Address"] = out[3]["Email Address"].title().replace("@Example", "@example")
    out[21]["Email Address"] = "bo.smith@example"
    out[33]["Email Address"] = "joão." + out[33]["Email Address"].partition(".")[2]
    out[40]["First Name"] = ""
    return out


def shopify(rng: random.Random, rows: int = 36) -> list[dict[str, str]]:
    out = []
    for i in range(rows):
        p = _person(rng, i + 7)
        out.append({
            "Customer ID": f"'{7_000_000_000_000 + 1_000 * i + rng.randint(0, 999)}",
            "First Name": p["first"], "Last Name": p["last"], "Email": p["email"],
            "Accepts Email Marketing": rng.choice(["yes", "no"]),
            "Default Address Company": "", "Default Address Address1": p["street"],
            "Default Address Address2": "", "Default Address City": p["city"],
            "Default Address Province Code": p["region"],
            "Default Address Country Code": p["country"], "Default Address Zip": p["zip"],
            "Default Address Phone": p["phone"], "Phone": p["phone"],
            "Accepts SMS Marketing": rng.choice(["yes", "no"]),
            "Total Spent": f"{rng.uniform(0, 900):.2f}", "Total Orders": str(rng.randint(0, 12)),
            "Note": "", "Tax Exempt": "no", "Tags": rng.choice(["", "VIP", "wholesale"]),
        })  # fmt: skip
    out[5]["Email"] = out[17]["Email"] = ""
    out[12]["Email"] += " "
    out[30]["Email"] = out[2]["Email"]
    return out


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    here = Path(__file__).resolve().parent
    rng = random.Random(SEED)
    _write(here / "mailchimp_audience_export.csv", MAILCHIMP, mailchimp(rng))
    _write(here / "shopify_customers_export.csv", SHOPIFY, shopify(rng))


if __name__ == "__main__":
    main()
