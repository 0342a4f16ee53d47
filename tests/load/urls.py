"""The service's URLs plus the stock twin at /api/stock/ (load tests only)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from backend.urls import handler400, handler403, handler404, handler500, urlpatterns
from tests.load.stock import StockEntryViewSet

router = SimpleRouter()
router.register("entries", StockEntryViewSet, basename="stock-entry")

urlpatterns = [*urlpatterns, path("api/stock/", include(router.urls))]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
