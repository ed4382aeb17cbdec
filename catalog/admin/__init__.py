"""The catalog admin: metrics, products, rate cards, versions and prices. Thin: every write is a service call."""

from catalog.admin import metrics, prices, product_lines, products, rate_cards

__all__ = ["metrics", "prices", "product_lines", "products", "rate_cards"]
