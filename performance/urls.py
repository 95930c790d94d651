from django.urls import path

from performance import views

app_name = "performance"

urlpatterns = [
    path("", views.report, name="report"),
    path("export.<str:fmt>", views.export, name="export"),
    path("lock/", views.lock, name="lock"),
    path("reopen/", views.reopen, name="reopen"),
    path("register/", views.register, name="register"),
]
