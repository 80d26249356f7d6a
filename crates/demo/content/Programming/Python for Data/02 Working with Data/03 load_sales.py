"""Load the monthly sales table and answer a few questions about it."""

import csv
from pathlib import Path

SALES = Path(__file__).with_name("02 sales.csv")


def load(path):
    with path.open(newline="") as f:
        return [
            {"month": row["month"], "orders": int(row["orders"]), "revenue": int(row["revenue"])}
            for row in csv.DictReader(f)
        ]


def main():
    rows = load(SALES)
    best = max(rows, key=lambda row: row["revenue"])
    orders = sum(row["orders"] for row in rows)
    revenue = sum(row["revenue"] for row in rows)
    print(f"Best month: {best['month']} ({best['revenue']})")
    print(f"Average order: {revenue / orders:.2f}")
    first, second = rows[:6], rows[6:]
    growth = sum(r["revenue"] for r in second) / sum(r["revenue"] for r in first) - 1
    print(f"Second half vs first: {growth:+.1%}")


if __name__ == "__main__":
    main()
