from django.urls import path

from approvals import designation_views, notification_views, views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/", views.case_list, name="cases"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("designations/", designation_views.designations, name="designations"),
    path("designations/<int:pk>/end/", designation_views.designation_end_view, name="designation_end"),
    path("steps/<int:pk>/reassign/", designation_views.step_reassign_view, name="step_reassign"),
    path("<int:pk>/", views.case_page, name="case"),
    path("<int:pk>/decide/", views.case_decide, name="decide"),
    path("<int:pk>/holders-summary/", views.holders_summary, name="holders_summary"),
    path("<int:pk>/documents/", views.case_documents, name="documents"),
    path("<int:pk>/withdraw/", views.case_withdraw_view, name="withdraw"),
    path("<int:pk>/resubmit/", views.case_resubmit_view, name="resubmit"),
]
