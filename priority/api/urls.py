from django.urls import path

from .views import PriorityView

urlpatterns = [
    path("priorities", PriorityView.as_view(), name="priorities"),
]
