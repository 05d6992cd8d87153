from django.urls import path

from . import views

urlpatterns = [
    path("permissions/ocppTags", views.OcppTagGrantView.as_view(), name="ocpp-tag-permission-grant"),
    path("permissions/ocppTags/<int:ocppTagPk>", views.OcppTagPermissionsView.as_view(), name="ocpp-tag-permissions"),
    path("permissions/ocppTagGroups", views.OcppTagGroupGrantView.as_view(), name="ocpp-tag-group-permission-grant"),
    path(
        "permissions/ocppTagGroups/<int:ocppTagGroupPk>",
        views.OcppTagGroupPermissionsView.as_view(),
        name="ocpp-tag-group-permissions",
    ),
    path("permissions/check", views.PermissionCheckView.as_view(), name="permission-check"),
]
