"""Catalog API: billable metrics, products, rate cards, their versions and prices, and previews.

Thin views (parse input, one service or selector call, shape output), one module per resource:
`metrics`, `products`, `rate_cards` (cards and versions) and `prices`. Money and quantities are
decimal strings in JSON; a JSON number with a fraction is refused, since a float is not exact.
"""
