from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from crm_platform import rules_views, views
from crm_platform.health import HealthView
from permissions import signin_views

# The admin site under the platform's name, in the page's language (not Django's "Django administration").
admin.site.site_header = _("Client relationship platform · administration")
admin.site.site_title = _("Client relationship platform")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("healthz/", HealthView.as_view(), name="healthz"),  # container probes and operators (README)
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/login/", signin_views.admin_login),  # the one sign-in page, also for the admin site
    path("admin/", admin.site.urls),
    path("accounts/login/", signin_views.SignInView.as_view(), name="login"),
    path("accounts/second-factor/", include("permissions.signin_urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("ping-page/", views.ping_page, name="ping"),  # a signed-in page without data (benchmarks/pages.py)
    path("rules/", rules_views.rules, name="rules"),
    path("reservations/", include("reservations.urls")),
    path("relationships/", include("relationships.urls")),
    path("performance/", include("performance.urls")),
    path("approvals/", include("approvals.urls")),
    path("work/", include("crm_platform.work_urls")),  # §7 secondary, §8 branch/core, §11 callbacks, customer history
    path("permissions/", include("permissions.urls")),
]
