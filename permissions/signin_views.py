"""R-SEC-AUTH-1 / R-SEC-AUTH-2: the sign-in page, the lockout page and the second-factor pages.

Views parse and render; the rules are in `permissions.signin`.
"""
from __future__ import annotations

import base64
import time
from urllib.parse import urlencode

import django_otp
import segno
from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from common.redirects import local_url
from permissions import signin
from permissions.second_factor import has_second_factor, needs_second_factor, second_factor_pending


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        delay = signin.address_delay(request)
        if delay:
            time.sleep(delay)  # R-SEC-AUTH-1: a spraying address is slowed, right password or wrong
        return super().post(request, *args, **kwargs)


def admin_login(request):
    """The admin site signs in through the one sign-in page (lockout, directory, second factor)."""
    if request.user.is_authenticated:
        raise PermissionDenied  # signed in, but not someone the admin site serves
    query = request.META.get("QUERY_STRING", "")
    return redirect(reverse("login") + (f"?{query}" if query else ""))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: this account is locked, until when, and who can lift it — in the page's language."""
    typed = ((credentials or {}).get("username") or request.POST.get("username") or "").strip()
    lock = signin.lockout_of(typed)
    return render(request, "permissions/locked.html", {"username": typed, "lockout": lock}, status=429)


def _next_url(request) -> str:
    return local_url(request, request.POST.get("next") or request.GET.get("next"), reverse("home"))


class CodeForm(forms.Form):
    otp_token = forms.CharField(label=_("Verification code"), max_length=32, strip=True,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                                              "inputmode": "text", "spellcheck": "false"}))


def _apply_errors(form: CodeForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _verified(request, device) -> None:
    request.session.cycle_key()  # a new session key once the second factor is passed
    django_otp.login(request, device)


@never_cache
@sensitive_post_parameters("otp_token")
@login_required
def second_factor_verify(request):
    if not has_second_factor(request.user):
        return redirect(f"{reverse('signin:enrol')}?{urlencode({'next': _next_url(request)})}")
    if not second_factor_pending(request.user):
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = signin.otp_verify(user=request.user, token=form.cleaned_data["otp_token"], request=request)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            _verified(request, device)
            return redirect(_next_url(request))
    return render(request, "registration/second_factor.html", {"form": form, "next": _next_url(request)})


def _grouped(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


@never_cache
@sensitive_post_parameters("otp_token")
@login_required
def second_factor_enrol(request):
    user = request.user
    if has_second_factor(user):
        return redirect(f"{reverse('signin:verify')}?{urlencode({'next': _next_url(request)})}")
    device = signin.otp_enrolment_device(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = signin.otp_enrol_confirm(user=user, device_id=device.pk,
                                                     token=form.cleaned_data["otp_token"], request=request)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            _verified(request, device)
            # Shown once, in this response: they are not kept anywhere the user can read them again.
            return render(request, "registration/recovery_codes.html",
                          {"codes": codes, "next": _next_url(request)})
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4, title=str(_("Sign-in code QR")))
    return render(request, "registration/second_factor_enrol.html", {
        "form": form, "next": _next_url(request), "qr_svg": qr, "secret": secret, "secret_grouped": _grouped(secret),
        "required": needs_second_factor(user)})
