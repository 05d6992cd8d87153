from rest_framework.routers import SimpleRouter

from .operations import urlpatterns as operation_urls
from .views import ChargeBoxViewSet, OcppTagGroupViewSet, OcppTagViewSet, TransactionViewSet, UserViewSet

router = SimpleRouter(trailing_slash=False)
router.register("chargeBoxes", ChargeBoxViewSet, basename="charge-box")
router.register("ocppTags", OcppTagViewSet, basename="ocpp-tag")
router.register("users", UserViewSet, basename="user")
router.register("ocppTagGroups", OcppTagGroupViewSet, basename="ocpp-tag-group")
router.register("transactions", TransactionViewSet, basename="transaction")

urlpatterns = router.urls + operation_urls
