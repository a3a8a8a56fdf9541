from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ConnectionTestView, ServiceViewSet, TeamViewSet

router = SimpleRouter()
router.register("teams", TeamViewSet)
router.register("services", ServiceViewSet)
urlpatterns = [
    path("integrations/test", ConnectionTestView.as_view(), name="integration-test"),
    *router.urls,
]
