from django.utils.functional import SimpleLazyObject


def navigation(request):
    """Every page's top navigation by role, computed only when a template reads it."""
    from crm_platform.views import nav_for

    return {"nav": SimpleLazyObject(lambda: nav_for(request.user))}
