"""Django's groups and the permission pickers of the group and user admin, in the reader's language (issue 19).

Django stores a model permission's name in English in the database ("Can add permission"), and the pickers show
`str(permission)`: "认证和授权 | 权限 | Can add permission" on a Chinese page. Here a permission is named at read
time instead: its application's and model's names (their verbose names, translated where Django or our catalogue
knows them) and its action — "Can add/change/delete/view <model>" through our catalogue for the four permissions
Django creates for every model, a custom permission's name (a msgid) through gettext.

Some third-party applications name themselves or their models in words no catalogue translates (django-axes,
django-guardian, django-otp): their names are here, as msgids of our catalogue.
"""
from __future__ import annotations

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

# The applications whose names are not marked for translation (Django shows "Axes", "Otp_Totp").
APP_NAMES = {
    "axes": _("sign-in attempts"),
    "guardian": _("object permissions"),
    "otp_static": _("second factor: recovery codes"),
    "otp_totp": _("second factor: authenticator app"),
}
# Models whose verbose names are plain English strings (guardian, django-otp) or msgids of a catalogue without
# Chinese (django-axes): model label -> the name in the reader's language.
MODEL_NAMES = {
    "axes.accessattempt": _("access attempt"),
    "axes.accessattemptexpiration": _("access attempt expiration"),
    "axes.accessfailure": _("access failure"),
    "axes.accesslog": _("access log"),
    "guardian.groupobjectpermission": _("group object permission"),
    "guardian.userobjectpermission": _("user object permission"),
    "otp_static.staticdevice": _("recovery code set"),
    "otp_static.statictoken": _("recovery code"),
    "otp_totp.totpdevice": _("TOTP device"),
}
# The permissions Django creates for every model ("add_<model_name>" …).
DEFAULT_ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def app_words(app_label: str) -> str:
    if app_label in APP_NAMES:
        return str(APP_NAMES[app_label])
    try:
        return str(apps.get_app_config(app_label).verbose_name)
    except LookupError:
        return app_label


def model_words(ct: ContentType) -> str:
    label = f"{ct.app_label}.{ct.model}"
    if label in MODEL_NAMES:
        return str(MODEL_NAMES[label])
    model = ct.model_class()
    return str(model._meta.verbose_name) if model is not None else ct.model


def permission_words(permission: Permission) -> str:
    """"<application> | <model> | <what it allows>", each in the reader's language."""
    ct = permission.content_type
    model = model_words(ct)
    action, _sep, rest = permission.codename.partition("_")
    if action in DEFAULT_ACTIONS and rest == ct.model:
        allows = str(DEFAULT_ACTIONS[action]) % {"model": model}
    else:
        allows = gettext(permission.name)  # a custom permission is named by a msgid
    return f"{app_words(ct.app_label)} | {model} | {allows}"


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return permission_words(obj)


class PermissionWordsMixin:
    """The group's and the user's permission pickers name each permission in the reader's language."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.related_model is Permission:
            kwargs["form_class"] = PermissionChoiceField
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


class WordedGroupAdmin(PermissionWordsMixin, GroupAdmin):
    """Django's group admin, its permissions named in the reader's language."""


if admin.site.is_registered(Group):
    admin.site.unregister(Group)
admin.site.register(Group, WordedGroupAdmin)

# Django's own words that Django's Chinese catalogue lacks (its msgid changed, its translation did not); ours
# translates them. Marked here so that makemessages keeps them in our catalogue.
DJANGO_WORDS = [
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    # the help of every multiple choice (the group's and the user's pickers), the keys named in Chinese
    gettext_noop("Hold down “Control”, or “Command” on a Mac, to select more than one."),
]
