#!/usr/bin/env python
"""How long a list page takes to write its table, three ways, on the same 50 rows (issue 18, list pages):

- `stock`: django-tables2's own row loop (`django_tables2/table.html`), which reads each cell's render signature,
  model field and attributes again and compiles every date column's template once per cell;
- `compiled`: `common.table_rows.CompiledTable`, the same columns decided once per page (what the pages use);
- `plain`: a hand-written template of the same cells, django-tables2 keeping only the header.

    .venv/bin/python benchmarks/tables.py [--rows 50] [--repeat 200]

The rows are model instances built in memory (no database): this measures rendering only. The relationship list
(7 columns: a link, a prefetched holders list, a date, a status) and the case list (10 columns, a choices field,
a link, a time) are measured; the last line is
    tables relationships_stock_ms=… relationships_compiled_ms=… relationships_plain_ms=… cases_… (medians)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN_RELATIONSHIPS = """{% extends "django_tables2/table.html" %}{% block table.tbody %}<tbody>
{% for row in table.paginated_rows %}{% with r=row.record %}<tr class="{% cycle 'even' 'odd' %}">
<td><a href="{% url 'relationships:detail' r.pk %}">{{ r.customer.name }}</a></td><td>{{ r.customer.id_masked }}</td>
<td>{{ r.type.label }}</td><td>{% for s in r.listed_shares %}{% if not s.effective_to %}<span style="white-space: nowrap;
margin-right: 10px;">{{ s.staff }} {{ s.ratio }}</span>{% endif %}{% endfor %}</td>
<td>{{ r.outlet.name|default:"—" }}</td><td>{{ r.effective_from|date:"Y-m-d" }}</td>
<td>{% if r.effective_to %}<span class="status status-ended">ended {{ r.effective_to|date:"Y-m-d" }}</span>{% else %}
<span class="status status-active">active</span>{% endif %}</td></tr>{% endwith %}{% endfor %}</tbody>{% endblock %}"""

PLAIN_CASES = """{% extends "django_tables2/table.html" %}{% block table.tbody %}<tbody>
{% for row in table.paginated_rows %}{% with c=row.record %}<tr class="{% cycle 'even' 'odd' %}">
<td><a href="{% url 'approvals:case' c.pk %}">#{{ c.pk }}</a></td><td>{{ c.get_reason_display }}</td>
<td>{{ c.type.label }}</td><td>{{ c.customer.name }}</td><td>{{ c.customer.id_masked }}</td>
<td>{{ c.applicant|default:"—" }}</td><td>{{ c.branch.name|default:"—" }}</td>
<td><span class="status status-{{ c.status }}">{{ c.get_status_display }}</span></td><td>{{ c.current_step }}</td>
<td>{{ c.created_at|date:"Y-m-d H:i" }}</td></tr>{% endwith %}{% endfor %}</tbody>{% endblock %}"""


def relationships(n: int):
    from relationships.models import Customer, Organisation, Relationship, RelationshipShare, RelationshipType, Staff

    kind = RelationshipType(code="NEW_DEV", name="新开发", name_en="New development")
    outlet = Organisation(pk=1, code="O1", name="营业部一", kind="outlet")
    staff = [Staff(pk=k, staff_no=f"S{k:05d}", name=f"员工{k}") for k in range(1, 4)]
    rows = []
    for i in range(1, n + 1):
        rel = Relationship(pk=i, customer=Customer(pk=i, name=f"客户{i}", id_masked="110105********0000"),
                           type=kind, outlet=outlet if i % 5 else None, effective_from=dt.date(2026, 3, 1),
                           effective_to=dt.date(2026, 4, 1) if i % 7 == 0 else None)
        rel.listed_shares = [
            RelationshipShare(pk=2 * i + h, relationship=rel, staff=staff[(i + h) % 3], ratio=Decimal("0.5000"))
            for h in range(2)]
        rows.append(rel)
    return rows


def cases(n: int):
    from django.utils import timezone

    from approvals.models import ApprovalCase
    from relationships.models import Customer, Organisation, RelationshipType, Staff

    kind = RelationshipType(code="NEW_DEV", name="新开发", name_en="New development")
    branch = Organisation(pk=1, code="B1", name="分公司一", kind="branch")
    applicant = Staff(pk=1, staff_no="S00001", name="员工1")
    now = timezone.now()
    return [ApprovalCase(pk=i, reason="late", type=kind, customer=Customer(pk=i, name=f"客户{i}",
                         id_masked="110105********0000"), branch=branch, applicant=applicant if i % 3 else None,
                         status="pending", current_step=1, created_at=now - dt.timedelta(minutes=i))
            for i in range(1, n + 1)]


def timed(template, context, repeat: int) -> float:
    from django.template import Context

    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        template.render(Context(context))
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")

    import django

    django.setup()
    from django.template import Template
    from django.test import RequestFactory
    from django.utils import translation

    from approvals.tables import CaseTable
    from relationships.tables import RelationshipTable

    translation.activate("zh-hans")
    request = RequestFactory().get("/")
    stock = Template('{% include "django_tables2/table.html" %}')
    compiled = Template('{% include "includes/data_table.html" %}')
    results = {}
    for name, table_class, rows, plain in (("relationships", RelationshipTable, relationships(args.rows),
                                            PLAIN_RELATIONSHIPS),
                                           ("cases", CaseTable, cases(args.rows), PLAIN_CASES)):
        for way, template in (("stock", stock), ("compiled", compiled), ("plain", Template(plain))):
            table = table_class(rows)
            results[f"{name}_{way}_ms"] = ms = timed(template, {"table": table, "request": request}, args.repeat)
            print(f"{name} {way}: median {ms:.2f} ms for {args.rows} rows", flush=True)
    print("tables " + " ".join(f"{k}={v:.2f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
