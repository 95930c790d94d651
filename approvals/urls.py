from django.urls import path

from approvals import notification_views, views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/", views.case_list, name="cases"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("<int:pk>/", views.case_page, name="case"),
    path("<int:pk>/decide/", views.case_decide, name="decide"),
    path("<int:pk>/documents/", views.case_documents, name="documents"),
    path("<int:pk>/withdraw/", views.case_withdraw_view, name="withdraw"),
    path("<int:pk>/resubmit/", views.case_resubmit_view, name="resubmit"),
]
