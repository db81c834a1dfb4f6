"""One InfluxQL statement for many: the same read of several sites (or site and meter pairs) as one ``GROUP BY``.

A compare of 20 sites asks each site the same statements with another ``site = '…'`` (and ``device = '…'``):
its events, its ``finished`` points, its main meter's minute rows and their neighbours, its stored days' sums.
InfluxDB 1.x pays for each statement (parsing, planning, opening the shards of its range) however little it
reads, so those are sent as one statement over all of them, grouped by the tags that told them apart, and its
answer is cut back into each statement's own (docs/performance.md#kpi-read-model).

Exact: a grouped statement returns, in the series of each tag set, the rows the statement of that tag set alone
returns, in the same order (``LIMIT`` and ``ORDER BY`` apply per series, ``GROUP BY time(…)`` buckets per
series). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collector.influx.client import Series

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Select:
    """A statement split into the parts a merge needs: ``{head} WHERE {tags} AND {where} GROUP BY {group}
    {fill} {tail}``. ``tags``: the equality conditions on tags (contract ids, checked by the caller) that tell
    this statement apart from the same read of another site or meter."""

    head: str  # SELECT … FROM …
    tags: Tags
    where: str = ""
    group: str = ""  # e.g. time(1m)
    fill: str = ""  # e.g. fill(none)
    tail: str = ""  # e.g. ORDER BY time DESC LIMIT 1

    def text(self) -> str:
        """The statement alone."""
        conditions = [f"{key} = '{value}'" for key, value in self.tags]
        if self.where:
            conditions.append(self.where)
        return _statement(self, " AND ".join(conditions), self.group)

    def shape(self) -> tuple[str, tuple[str, ...], str, str, str, str]:
        """Statements of one shape differ only in their tag values: they merge."""
        return self.head, tuple(key for key, _ in self.tags), self.where, self.group, self.fill, self.tail


def _statement(select: Select, condition: str, group: str) -> str:
    parts = [select.head]
    if condition:
        parts.append(f"WHERE {condition}")
    if group:
        parts.append(f"GROUP BY {group}")
    if select.fill:
        parts.append(select.fill)
    if select.tail:
        parts.append(select.tail)
    return " ".join(parts)


def merged_text(selects: Sequence[Select]) -> str:
    """One statement for ``selects`` (all of one ``shape``), grouped by their tag keys."""
    first = selects[0]
    keys = [key for key, _ in first.tags]
    wanted = sorted({one.tags for one in selects})
    either = " OR ".join("(" + " AND ".join(f"{key} = '{value}'" for key, value in tags) + ")" for tags in wanted)
    condition = f"({either})" + (f" AND {first.where}" if first.where else "")
    group = ", ".join([first.group, *keys] if first.group else keys)
    return _statement(first, condition, group)


def split(selects: Sequence[Select], answer: list[Series]) -> list[list[Series]]:
    """The merged statement's answer cut into each select's own, in order (tags dropped, as alone)."""
    keys = [key for key, _ in selects[0].tags]
    by_tags: dict[Tags, list[Series]] = {}
    for one in answer:
        tags = tuple((key, one.tags.get(key, "")) for key in keys)
        by_tags.setdefault(tags, []).append(Series(one.name, one.columns, one.values))
    return [by_tags.get(select.tags, []) for select in selects]


def plan(statements: Sequence[tuple[str | Select, bool]]) -> list[tuple[str, bool, list[int]]]:
    """The statements to send: each shape of ``Select`` (of one tolerance, see ``summaries.ask``) once, plain text
    as it is; each with whether its refusal reads as no rows, and the indexes of ``statements`` it answers. A
    shape asked once stays its own statement, as ``text`` gives it."""
    groups: dict[object, list[int]] = {}
    for i, (statement, tolerant) in enumerate(statements):
        key: object = (statement.shape(), tolerant) if isinstance(statement, Select) else i
        groups.setdefault(key, []).append(i)
    sent: list[tuple[str, bool, list[int]]] = []
    for indexes in groups.values():
        first, tolerant = statements[indexes[0]]
        if isinstance(first, Select) and len(indexes) > 1:
            text = merged_text([select for i in indexes if isinstance(select := statements[i][0], Select)])
        else:
            text = first.text() if isinstance(first, Select) else first
        sent.append((text, tolerant, indexes))
    return sent


def answers_of(
    statements: Sequence[tuple[str | Select, bool]],
    sent: list[tuple[str, bool, list[int]]],
    answers: list[list[Series]],
) -> list[list[Series]]:
    """Each of ``statements``' answer, from the answers to ``plan``'s statements."""
    result: list[list[Series]] = [[] for _ in statements]
    for (_, _, indexes), answer in zip(sent, answers, strict=True):
        if len(indexes) == 1:
            result[indexes[0]] = answer
            continue
        selects = [select for i in indexes if isinstance(select := statements[i][0], Select)]
        for i, part in zip(indexes, split(selects, answer), strict=True):
            result[i] = part
    return result


def text_of(statement: str | Select) -> str:
    return statement.text() if isinstance(statement, Select) else statement
