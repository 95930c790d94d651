from django.urls import path

from permissions import views

app_name = "permissions"

urlpatterns = [
    path("applications/", views.application_list, name="applications"),
    path("applications/new/", views.application_new, name="application_new"),
    path("applications/<int:pk>/", views.application_detail, name="application"),
    path("applications/<int:pk>/approve/", views.application_approve_view, name="application_approve"),
    path("applications/<int:pk>/reject/", views.application_reject_view, name="application_reject"),
    path("applications/<int:pk>/withdraw/", views.application_withdraw_view, name="application_withdraw"),
    path("applications/<int:pk>/apply/", views.application_apply_view, name="application_apply"),
    path("register/", views.register_list, name="register"),
    path("register/export.csv", views.register_export_csv, name="register_csv"),
    path("register/export.xlsx", views.register_export_xlsx, name="register_xlsx"),
    path("pii/reservations/<int:pk>/", views.unmask_reservation, name="unmask_reservation"),
    path("pii/customers/<int:pk>/", views.unmask_customer, name="unmask_customer"),
]
