"""First steps: lists, loops and a little arithmetic."""

prices = [12.50, 8.99, 23.00, 5.25]

total = sum(prices)
average = total / len(prices)

print(f"{len(prices)} items, total {total:.2f}, average {average:.2f}")

for price in sorted(prices, reverse=True):
    marker = "*" if price > average else " "
    print(f"{marker} {price:6.2f}")
