from django.urls import path

from reservations import views
from reservations.exchange import views as exchange_views

app_name = "reservations"

urlpatterns = [
    path("", views.reservation_list, name="list"),
    path("new/", views.reservation_create, name="create"),
    path("new/ratio-summary/", views.ratio_summary, name="ratio_summary"),
    path("<int:pk>/", views.reservation_detail, name="detail"),
    path("<int:pk>/withdraw/", views.reservation_withdraw_view, name="withdraw"),
    path("<int:pk>/correct-name/", views.reservation_correct_view, name="correct_name"),
    path("runs/", views.run_list, name="runs"),
    path("runs/start/", exchange_views.nightly_start, name="nightly_start"),
    path("runs/<str:day>/", views.night_report, name="night"),
    path("runs/<str:day>/outcomes.csv", views.night_report_csv, name="night_csv"),
    path("feeds/", exchange_views.feed_upload, name="feeds"),
    path("feeds/<int:pk>/", exchange_views.feed_detail, name="feed_detail"),
    path("feeds/samples/<str:kind>.csv", exchange_views.feed_sample_csv, name="feed_sample"),
    path("feeds/uploads/<int:pk>/", exchange_views.feed_upload_detail, name="feed_upload"),
    path("feeds/uploads/<int:pk>/progress/", exchange_views.feed_upload_progress, name="feed_upload_progress"),
    path("feeds/<int:pk>/errors.csv", exchange_views.feed_errors_csv, name="feed_errors"),
]
