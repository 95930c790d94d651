"""URLs of the §7 / §8 / §11 pages (secondary development, branch-created relationships, core lists,
callbacks, the customer's history), mounted at /work/ under the namespace `work`."""
from django.urls import path

from crm_platform import views as composed
from relationships import staff_views
from relationships import views as relationships
from reservations.branch import views as branch
from reservations.reassign import views as reassign
from reservations.secondary import views as secondary

app_name = "work"

urlpatterns = [
    path("secondary/", secondary.classified_list, name="classified"),
    path("secondary/assignments/", secondary.assignment_list, name="assignments"),
    path("secondary/assignments/<int:pk>/end/", secondary.assignment_end, name="assignment_end"),
    path("secondary/mine/", secondary.my_assignments, name="mine"),
    path("secondary/mine/<int:pk>/reserve/", secondary.assignment_reserve, name="reserve"),
    path("secondary/special-new/", secondary.special_new, name="special_new"),
    path("branch/", branch.branch_requests, name="branch_requests"),
    path("branch/new/", branch.branch_request_new, name="branch_new"),
    path("branch/relationships/<int:pk>/replace/", branch.relationship_replace, name="replace"),
    path("branch/relationships/<int:pk>/end/", branch.relationship_end_view, name="end"),
    path("core/", branch.core_list, name="core"),
    path("core/<int:pk>/remove/", branch.core_remove, name="core_remove"),
    path("staff/<int:pk>/", staff_views.staff_detail, name="staff"),  # R-STAFF-1: holders over time
    path("reassignments/awaiting/", reassign.awaiting_list, name="awaiting"),  # R-STAFF-1
    path("reassignments/staff/<int:pk>/", reassign.reassign, name="reassign"),
    path("reassignments/staff/<int:pk>/holders/", reassign.holders_summary, name="reassign_summary"),
    path("callbacks/<int:pk>/reassign/", reassign.dispute_reassign, name="dispute_reassign"),  # R-CB-1
    path("callbacks/<int:pk>/reassign/holders/", reassign.dispute_holders_summary, name="dispute_reassign_summary"),
    path("callbacks/", relationships.callback_list, name="callbacks"),
    path("callbacks/<int:pk>/", relationships.callback_detail, name="callback"),
    path("customers/<int:pk>/", composed.customer_history, name="customer"),
]
