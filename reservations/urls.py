from django.urls import path

from reservations import views

app_name = "reservations"

urlpatterns = [
    path("", views.reservation_list, name="list"),
    path("new/", views.reservation_create, name="create"),
    path("<int:pk>/", views.reservation_detail, name="detail"),
    path("<int:pk>/withdraw/", views.reservation_withdraw_view, name="withdraw"),
    path("<int:pk>/correct-name/", views.reservation_correct_view, name="correct_name"),
    path("runs/", views.run_list, name="runs"),
]
