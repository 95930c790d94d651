"""Capped pagination: lists over millions of rows never COUNT(*) the whole scope.

`CappedPaginator` counts at most `cap` rows (a `LIMIT cap+1` subquery, which PostgreSQL stops early)
and so offers at most `cap / per_page` pages; `paginator.capped` tells the template to say "more than".
"""
from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

DEFAULT_CAP = 10_000


class CappedPaginator(Paginator):
    def __init__(self, object_list, per_page, *, cap: int = DEFAULT_CAP, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, list):
            return min(len(self.object_list), self.cap + 1)
        # values("pk") drops select_related joins: the count reads only the scope's index.
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()  # type: ignore[attr-defined]

    @cached_property
    def capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def num_pages(self) -> int:
        count = min(self.count, self.cap)
        if count == 0 and not self.allow_empty_first_page:
            return 0
        hits = max(1, count - self.orphans)
        return -(-hits // self.per_page)


def capped_count(qs, cap: int = DEFAULT_CAP) -> str:
    """A count for a summary tile: exact up to `cap`, "cap+" beyond (never a COUNT(*) over millions of rows)."""
    n = qs.order_by().values("pk")[: cap + 1].count()
    return f"{cap}+" if n > cap else str(n)
