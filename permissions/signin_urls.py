from django.urls import path

from permissions import signin_views

app_name = "signin"

urlpatterns = [
    path("", signin_views.second_factor_verify, name="verify"),
    path("enrol/", signin_views.second_factor_enrol, name="enrol"),
]
