from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/", views.case_list, name="cases"),
    path("<int:pk>/", views.case_page, name="case"),
    path("<int:pk>/decide/", views.case_decide, name="decide"),
    path("<int:pk>/holders-summary/", views.holders_summary, name="holders_summary"),
    path("<int:pk>/documents/", views.case_documents, name="documents"),
    path("<int:pk>/withdraw/", views.case_withdraw_view, name="withdraw"),
    path("<int:pk>/resubmit/", views.case_resubmit_view, name="resubmit"),
]
