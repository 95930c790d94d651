"""Placing a service's refusal on the form that asked for it (views parse and render; rules are services')."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError


def add_service_errors(form, exc: ValidationError | PermissionDenied, *, fields: Iterable[str] | None = None,
                       aliases: Mapping[str, str] | None = None, formset=None,
                       formset_keys: Iterable[str] = ()) -> None:
    """Each message next to the field the service named (R-RES-3: a clear message on the field).

    `fields` limits which of the form's fields take messages (default: all of them); `aliases` maps a service's
    key to a form field of another name; messages under `formset_keys` go above the formset's rows. Anything
    else, and a refusal without fields (a PermissionDenied, a plain ValidationError), goes to the whole form.
    """
    if isinstance(exc, PermissionDenied):
        form.add_error(None, str(exc))
        return
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    allowed = set(form.fields if fields is None else fields)
    aliases = aliases or {}
    formset_keys = set(formset_keys)
    for key, messages in exc.message_dict.items():
        if formset is not None and key in formset_keys:
            formset.non_form_errors().extend(messages)
            continue
        key = aliases.get(key, key)
        form.add_error(key if key in allowed else None, messages)
