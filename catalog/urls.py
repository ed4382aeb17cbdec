from django.urls import path

from catalog.api import metrics, previews, prices, products, rate_cards

VERSION = "rate-cards/<str:code>/versions/<int:number>"

urlpatterns = [
    path("metrics", metrics.MetricListCreateApi.as_view(), name="metrics"),
    # Before metrics/<code>: "preview" is this operation, not a metric's code.
    path("metrics/preview", metrics.MetricDefinitionPreviewApi.as_view(), name="metric-definition-preview"),
    path("metrics/<str:code>", metrics.MetricDetailApi.as_view(), name="metric-detail"),
    path("metrics/<str:code>/preview", metrics.MetricPreviewApi.as_view(), name="metric-preview"),
    path("products", products.ProductListCreateApi.as_view(), name="products"),
    path("products/<str:code>", products.ProductDetailApi.as_view(), name="product-detail"),
    path("rate-cards", rate_cards.RateCardListCreateApi.as_view(), name="rate-cards"),
    path("rate-cards/<str:code>", rate_cards.RateCardDetailApi.as_view(), name="rate-card-detail"),
    path(
        "rate-cards/<str:code>/versions", rate_cards.RateCardVersionListCreateApi.as_view(), name="rate-card-versions"
    ),
    path(VERSION, rate_cards.RateCardVersionDetailApi.as_view(), name="rate-card-version-detail"),
    path(f"{VERSION}/activate", rate_cards.RateCardVersionActivateApi.as_view(), name="rate-card-version-activate"),
    path(f"{VERSION}/rollback", rate_cards.RateCardVersionRollbackApi.as_view(), name="rate-card-version-rollback"),
    path(f"{VERSION}/preview", previews.RateCardVersionPreviewApi.as_view(), name="rate-card-version-preview"),
    path(f"{VERSION}/prices", prices.PriceCreateApi.as_view(), name="rate-card-prices"),
    path(f"{VERSION}/prices/<int:price_id>", prices.PriceDetailApi.as_view(), name="rate-card-price-detail"),
]
