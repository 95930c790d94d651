"""A filter's model choices from a list the caller keeps, instead of a query on every page that shows the form.

`ListedModelChoiceFilter(rows=callable, queryset=…)`: the options are `rows()` (the caller decides how long a list
stays: see `relationships.types.type_rows`); a submitted value is still checked against `queryset`, in the
database, so a row the list does not know yet is accepted and one deleted since is refused.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import django_filters
from django.db.models import Model
from django.forms.models import ModelChoiceIterator
from django_filters.fields import ModelChoiceField


class ListedChoiceIterator(ModelChoiceIterator):
    field: ListedModelChoiceField

    def __iter__(self):
        field = self.field
        if field.empty_label is not None:
            yield ("", field.empty_label)
        if field.null_label is not None:
            yield (field.null_value, field.null_label)
        for obj in field.rows():
            yield self.choice(obj)

    def __len__(self):
        field = self.field
        return len(field.rows()) + (field.empty_label is not None) + (field.null_label is not None)

    def __bool__(self):
        return True


class ListedModelChoiceField(ModelChoiceField):
    iterator = ListedChoiceIterator
    null_label: str | None
    null_value: str

    def __init__(self, *args, rows: Callable[[], Sequence[Model]], **kwargs):
        self.rows = rows
        super().__init__(*args, **kwargs)


class ListedModelChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = ListedModelChoiceField
