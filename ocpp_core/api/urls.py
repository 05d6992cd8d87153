from rest_framework.routers import SimpleRouter

from .views import ChargeBoxViewSet, OcppTagGroupViewSet, OcppTagViewSet, UserViewSet

router = SimpleRouter(trailing_slash=False)
router.register("chargeBoxes", ChargeBoxViewSet, basename="charge-box")
router.register("ocppTags", OcppTagViewSet, basename="ocpp-tag")
router.register("users", UserViewSet, basename="user")
router.register("ocppTagGroups", OcppTagGroupViewSet, basename="ocpp-tag-group")

urlpatterns = router.urls
