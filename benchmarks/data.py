"""Fast synthetic French customer rows for benchmarks (no Faker: millions of rows quickly)."""

import csv
import random
from collections.abc import Iterator
from pathlib import Path

FIRST = ["Jean", "Marie", "Élodie", "Théo", "Camille", "Léa", "Hugo", "Chloé", "Louis", "Inès",
         "Gabriel", "Manon", "Raphaël", "Zoé", "Arthur", "Anaïs", "Jules", "Océane", "Noah", "Léna"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
        "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert"]
STREETS = ["rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue des Lilas",
           "place de la République", "chemin des Vignes", "allée des Tilleuls"]
CITIES = [("75011", "Paris"), ("69003", "Lyon"), ("13008", "Marseille"), ("31000", "Toulouse"),
          ("44000", "Nantes"), ("33000", "Bordeaux"), ("59000", "Lille"), ("67000", "Strasbourg")]
DOMAINS = ["gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "yahoo.fr", "sfr.fr"]
HEADER = ["external_id", "first_name", "last_name", "email", "phone", "birth_date",
          "address_line1", "postcode", "city", "country", "customer_id", "loyalty_tier"]


def record_rows(
    count: int, *, seed: int = 7, prefix: str = "B", start: int = 0
) -> Iterator[list[str]]:
    """Distinct customers with every standard identifier filled (the costly case).

    Rows numbered from `start`: two files with disjoint ranges share no identifier.
    """
    rng = random.Random(seed)
    for i in range(start, start + count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        postcode, city = rng.choice(CITIES)
        yield [
            f"{prefix}{i:08d}",
            first,
            last,
            f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}",
            "06 " + " ".join(f"{i // 100**k % 100:02d}" for k in (3, 2, 1, 0)),
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2005)}",
            f"{rng.randint(1, 200)} {rng.choice(STREETS)}",
            postcode,
            city,
            "FR",
            f"C{i:09d}",
            rng.choice(["bronze", "silver", "gold"]),
        ]


def write_records_csv(path: Path, count: int, *, seed: int = 7, start: int = 0) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(record_rows(count, seed=seed, start=start))
    return path


def record_dicts(count: int, *, seed: int = 7, start: int = 0) -> Iterator[dict]:
    for row in record_rows(count, seed=seed, start=start):
        item = dict(zip(HEADER, row, strict=True))
        item["attributes"] = {"loyalty_tier": item.pop("loyalty_tier")}
        yield item


def recreate_database(server_url: str, name: str) -> None:
    """Drop and create a scratch database (benchmarks never touch the test databases)."""
    import psycopg2

    conn = psycopg2.connect(f"{server_url}/postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
