"""Upper apps learn that a case ended without approvals importing them (ARCHITECTURE: arrows point one way).

`reservations` registers its handler from `ReservationsConfig.ready()`. Handlers run inside the
transaction that decided the case, so they commit or roll back with it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

# handler(case, *, relationship, actor): relationship is the created Relationship when approved, else None
# (also None for an approved `end` case: read `case.status` and `case.outcome` to tell them apart).
on_case_decided: list[Callable] = []


def register_case_decided(handler: Callable) -> Callable:
    if handler not in on_case_decided:
        on_case_decided.append(handler)
    return handler


def fire_case_decided(case, *, relationship, actor) -> None:
    for handler in list(on_case_decided):
        handler(case, relationship=relationship, actor=actor)


# wrapper(case, *, actor) -> a context manager entered around an approved case's own writes (the engine's ending,
# replacing or creating of relationships), inside the deciding transaction: an upper app sees them before and after
# (performance adjustments of a back-dated correction, R-PERF-5).
around_case_completion: list[Callable] = []


def register_around_case_completion(wrapper: Callable) -> Callable:
    if wrapper not in around_case_completion:
        around_case_completion.append(wrapper)
    return wrapper


@contextmanager
def case_completion(case, *, actor) -> Iterator[None]:
    with ExitStack() as stack:
        for wrapper in list(around_case_completion):
            stack.enter_context(wrapper(case, actor=actor))
        yield
