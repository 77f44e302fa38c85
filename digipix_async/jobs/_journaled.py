"""A create-order recorded in an `OrderJournal`: its intent before sending, its outcome after.

What each failure means for the order (the journal's ``state``):

- created: a 2xx answer (its body is kept, so a rerun reports the same Order);
- not_created: a definite refusal: a 4xx (429 included), or a failure before the
  request could leave (connect failure, its token request failed, the client
  closed, a scope it lacks): any SDK error but the two below;
- unknown: `OrderOutcomeUnknownError`, a 2xx whose order id cannot be read, anything
  unexpected, or an interruption (cancellation) while the request was out.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from digipix_async import _endpoints, _json
from digipix_async._errors import (
    APIResponseValidationError,
    DigipixError,
    JournalError,
    OrderOutcomeUnknownError,
    ValidationError,
)
from digipix_async._log import log
from digipix_async._options import BodyOptions, with_options
from digipix_async.jobs._answer import read_answer
from digipix_async.jobs._journal import JOURNAL_KEY, OrderJournal
from digipix_async.jobs._store import Decision, State
from digipix_async.models import Order

if TYPE_CHECKING:
    from digipix_async.resources._base import Caller

__all__ = ["create_journaled"]


async def create_journaled(
    client: Caller,
    journal: OrderJournal,
    arguments: Mapping[str, Any],
    *,
    resend_unknown: bool,
    options: BodyOptions | None = None,
) -> Order:
    """Create the order ``arguments`` describe, unless the journal already knows it.

    The intent (partner order id, sha256 of the exact body, time) is committed
    before the request goes; the outcome is queued for the journal's next commit
    (an intent left without one reads as unknown on a rerun).
    """
    if not isinstance(journal, OrderJournal):
        raise TypeError(f"journal must be an OrderJournal, got {type(journal).__name__}")
    partner_order_id = arguments.get("partner_order_id")
    if partner_order_id is None:
        raise ValidationError("partner_order_id", "required with a journal: it is the key")
    request = _endpoints.create_order(**_with_journal_key(arguments, partner_order_id))
    if options:  # the escape hatches are part of the body the journal hashes
        request = with_options(request, options)
    # Encoded once: the journal hashes the very bytes that are sent.
    body = _json.dumps(request.json)
    request = request._replace(body=body)
    digest = hashlib.sha256(body).hexdigest()
    decision = await journal._begin(partner_order_id, digest, resend_unknown)
    if decision.action == "created":
        return await _known(client, journal, decision)
    if decision.action == "unknown":
        raise _still_unknown(decision)
    try:
        sending = client._call_keeping_body(request, Order)
    except Exception as error:  # refused before anything was sent (closed, scope)
        journal._finish(partner_order_id, decision.attempt, "not_created", error=_text(error))
        raise
    try:
        order, answer = await sending
    except asyncio.CancelledError:
        # Not awaited: this task is being cancelled. An intent left without an
        # outcome reads as unknown on a rerun anyway; this only says why.
        journal._finish_soon(
            partner_order_id, decision.attempt, "unknown", "interrupted while sent"
        )
        raise
    except Exception as error:
        state, order_id = _failure_state(error)
        journal._finish(
            partner_order_id, decision.attempt, state, order_id=order_id, error=_text(error)
        )
        raise
    journal._finish(partner_order_id, decision.attempt, "created", order_id=order.id, answer=answer)
    return order


def _with_journal_key(arguments: Mapping[str, Any], partner_order_id: Any) -> dict[str, Any]:
    """Add the journal's key to ``customData`` (the user's own keys are kept)."""
    custom_data = arguments.get("custom_data")
    if custom_data is None:
        custom_data = {}
    elif not isinstance(custom_data, Mapping):
        return dict(arguments)  # create_order names the problem
    elif JOURNAL_KEY in custom_data:
        raise ValidationError(
            "custom_data",
            f"the key {JOURNAL_KEY!r} is reserved for the order journal (it holds the "
            "partner order id); use another key",
        )
    return {**arguments, "custom_data": {**custom_data, JOURNAL_KEY: partner_order_id}}


async def _known(client: Caller, journal: OrderJournal, decision: Decision) -> Order:
    """Report an order the journal knows as created, without creating it again."""
    row = decision.row
    # A "created" decision carries its row, and a created row its order id.
    assert row is not None
    assert row.order_id is not None
    if row.answer is not None:
        return read_answer(row.answer)
    # Settled by hand or by a notification: one GET, remembered for the next rerun.
    try:
        order, answer = await client._call_keeping_body(_endpoints.get_order(row.order_id), Order)
    except DigipixError as error:
        # Its own type (a rerun may well succeed), but saying what the failure is not:
        # a create that failed.
        error.add_note(
            f"the journal has partner order id {row.partner_order_id!r} as created, as order "
            f"{row.order_id} (settled by hand or by a notification), so it was not created "
            "again; only reading that order failed (a rerun reads it again; a wrong order id "
            "is fixed with journal.mark_created)"
        )
        raise
    try:
        await journal._remember_answer(row.partner_order_id, row.order_id, answer)
    except JournalError as error:  # only saves the next rerun its GET: the order stands
        log.warning("journal: could not keep the answer of order %s: %s", row.order_id, error)
    return order


def _still_unknown(decision: Decision) -> OrderOutcomeUnknownError:
    row = decision.row
    assert row is not None
    when = datetime.fromtimestamp(row.intent_at, UTC).isoformat(timespec="seconds")
    what = row.error or (
        "no outcome is recorded: it is in flight now in another process using this "
        "journal, or was when its job stopped"
    )
    cause = DigipixError(
        f"the journal has this order's outcome as unknown since {when}: {what}; it was "
        "not sent again (resend_unknown=False)"
    )
    return OrderOutcomeUnknownError(partner_order_id=row.partner_order_id, cause=cause)


def _failure_state(error: Exception) -> tuple[State, str | None]:
    """Tell what a create that raised ``error`` left at the server.

    The client's contract (API.md, Retries): every failure after which the order may
    exist is `OrderOutcomeUnknownError`, and a 2xx it cannot read is an
    `APIResponseValidationError` saying the order was created. Any other SDK error
    means the create was refused (a 4xx, 429 included) or never left (connect
    failure, its token request failed, the client closed): not created.
    """
    if isinstance(error, APIResponseValidationError) and error.order_created:
        # A 2xx: created, even if its answer could not be read. With its order id a
        # rerun fetches the order by it; without, it needs a look (never a resend).
        return ("created", error.order_id) if error.order_id else ("unknown", None)
    if isinstance(error, OrderOutcomeUnknownError):
        return "unknown", None
    if isinstance(error, DigipixError):
        return "not_created", None
    return "unknown", None  # not ours to read (a bug somewhere): assume the worst


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]
