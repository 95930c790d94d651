from django.utils.functional import SimpleLazyObject

from crm_platform.views import nav_for


def navigation(request):
    """Every page's top navigation by role, computed only when a template reads it."""
    return {"nav": SimpleLazyObject(lambda: nav_for(request.user))}
