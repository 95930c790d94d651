"""URLs of the §7 / §8 / §11 pages (secondary development, branch-created relationships, core lists,
callbacks, the customer's history), mounted at /work/ under the namespace `work`."""
from django.urls import path

from reservations import work_views as views

app_name = "work"

urlpatterns = [
    path("secondary/", views.classified_list, name="classified"),
    path("secondary/assignments/", views.assignment_list, name="assignments"),
    path("secondary/assignments/<int:pk>/end/", views.assignment_end, name="assignment_end"),
    path("secondary/mine/", views.my_assignments, name="mine"),
    path("secondary/mine/<int:pk>/reserve/", views.assignment_reserve, name="reserve"),
    path("secondary/special-new/", views.special_new, name="special_new"),
    path("branch/", views.branch_requests, name="branch_requests"),
    path("branch/new/", views.branch_request_new, name="branch_new"),
    path("branch/relationships/<int:pk>/replace/", views.relationship_replace, name="replace"),
    path("branch/relationships/<int:pk>/end/", views.relationship_end_view, name="end"),
    path("core/", views.core_list, name="core"),
    path("core/<int:pk>/remove/", views.core_remove, name="core_remove"),
    path("callbacks/", views.callback_list, name="callbacks"),
    path("callbacks/<int:pk>/", views.callback_detail, name="callback"),
    path("customers/<int:pk>/", views.customer_history, name="customer"),
]
