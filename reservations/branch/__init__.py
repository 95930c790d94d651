"""Branch-created relationships and core lists (§8).

**R-BR-1** The branch creates, replaces and ends `EXISTING_DEV`, `MAINTENANCE` and `KEY_SERVICE` (the
types whose `creation` is `branch`, R-TYPE-1) with participants and ratios (R-RES-4, R-ATT-1):

- *create* opens a 1-level case (`branch_created`, chain `one_level`: the branch designated person);
  on approval the approval engine creates the relationship, effective from the requested date;
- *replace* opens the same case (outcome `replace`) for the new version; the current version stays
  active while the case is pending. On approval the engine ends the current version on the new
  version's start date and creates the new one, in the transaction of the final approval (one active
  relationship per customer and type is checked then). Every version keeps its validity dates;
- *end* opens the same case (outcome `end`) with its date and reason; the relationship stays active
  while pending and the engine ends it (and its open shares, audited) on approval.
A rejected or withdrawn request changes nothing. The branch user who filed a request may correct and
resubmit, or withdraw, the returned case (`ApprovalCase.filed_by`).

**R-CORE-1/2/3** The branch submits its core-customer list (form, file upload or the `relationships`
feed); every line is checked on submission — account open at least 12 months, natural new customer
(no active development relationship), an investment advisor with a valid investment-consulting
qualification and open attach permission, one advisor per customer, at most 100 core customers per
advisor counting those he holds and those under review — and each accepted line becomes one case on
the `core_list` chain (HQ), so HQ approves or rejects line by line. Submissions are accepted only in
January and July (calendar month of the submission).
Removing a customer from the list is a change too (`core_list_remove`): January and July only, with a
reason, as a `core_list` case with outcome `end` on the `CORE_SERVICE` relationship, ended on HQ approval.

`follow.branch_cases_decided` keeps requests and lines in step with their case's decision.
"""
