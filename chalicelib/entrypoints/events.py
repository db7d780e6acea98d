"""The app's event entry points: the table's stream handler and the scheduled functions.

Each is its own Lambda function, whose handler is this module's function (`chalicelib.entrypoints.events.<name>`),
and `app.py` registers them through `bp`, so importing this module must stay as cheap as importing `app`: the
services each handler calls are imported in its body, on the function's first invocation.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, EventSourceHandler, Rate

from chalicelib.core import observability
from chalicelib.core.clock import utcnow
from chalicelib.core.observability import logger
from chalicelib.entrypoints import wiring

bp = Blueprint(__name__)

# infra/ wires this function to the table's stream (ReportBatchItemFailures); the local pump
# invokes it by this name.
STREAM_HANDLER = "stream_handler"


@bp.lambda_function(name=STREAM_HANDLER)
def stream_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    wiring.wire()
    from chalicelib.entrypoints import stream  # every reacting slice: loaded by the stream function only

    return stream.handle(event, context)


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="close_ended_campaigns")
def close_ended_campaigns(event: CloudWatchEvent) -> dict[str, Any]:
    wiring.wire()
    from chalicelib.campaigns import lifecycle  # loaded by this schedule's function, not by `import app`

    closed = lifecycle.close_ended(utcnow())
    if closed:
        logger.info("campaigns ended by schedule", campaign_ids=closed)
    return {"closed": closed}


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="fail_expired_groups")
def fail_expired_groups(event: CloudWatchEvent) -> dict[str, Any]:
    wiring.wire()
    from chalicelib.modes.group_buy import service as groups  # loaded by this schedule's function only

    closed = groups.fail_expired(utcnow())
    if closed.failed or closed.filled:
        logger.info("groups closed at their deadline", failed=closed.failed, filled=closed.filled)
    return {"failed": closed.failed, "filled": closed.filled}


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="settle_follows")
def settle_follows(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.referral import contacts  # loaded by this schedule's function only

    counted = contacts.settle_due(utcnow())
    if counted:
        logger.info("follows counted after their retention window", counted=counted)
    return {"counted": counted}


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="release_rewards")
def release_rewards(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.referral import releases  # loaded by this schedule's function only

    counts = releases.run_due(utcnow())
    if any(counts.values()):
        logger.info("held rewards released", extra=counts)
    return counts


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="deliver_webhooks")
def deliver_webhooks(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.messaging import webhooks  # loaded by this schedule's function only

    counts = webhooks.deliver(utcnow())
    if any(counts.values()):
        logger.info("webhook deliveries", extra=counts)
    return counts


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="deliver_messages")
def deliver_messages(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.messaging import messages  # loaded by this schedule's function only

    counts = messages.deliver(utcnow())
    if any(counts.values()):
        logger.info("message deliveries", extra=counts)
    return counts


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="run_exports")
def run_exports(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.analytics import exports  # loaded by this schedule's function only

    counts = exports.run(utcnow())
    if counts["jobs"]:
        logger.info("export runs", extra=counts)
    return counts


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="run_automations")
def run_automations(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.audience import automations  # loaded by this schedule's function only

    counts = automations.run_due(utcnow())
    if any(counts.values()):
        logger.info("automation runs", extra=counts)
    return counts


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="pay_withdrawals")
def pay_withdrawals(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.payouts import withdrawals  # loaded by this schedule's function only

    counts = withdrawals.pay_due(utcnow())
    if any(counts.values()):
        logger.info("withdrawal payouts", extra=counts)
    return counts


# Every 5 minutes: each tenant's daily churn run (once per local day) advances by a bounded number of profiles,
# so a long run finishes over several ticks (docs/retention.md, "Churn warning").
@bp.schedule(Rate(5, unit=Rate.MINUTES), name="score_churn")
def score_churn(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.audience import churn  # loaded by this schedule's function only

    counts = churn.run(utcnow())
    if any(counts.values()):
        logger.info("churn scoring", extra=counts)
    return counts


# Every 5 minutes: a tail cut off the audit chain is caught unless it was appended after the last run
# (docs/operations.md, "The audit anchors"). A run writes only for tenants whose chain grew.
@bp.schedule(Rate(5, unit=Rate.MINUTES), name="anchor_audit_chains")
def anchor_audit_chains(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.accounts import audit  # loaded by this schedule's function only

    counts = audit.anchor_heads(utcnow())
    if any(counts.values()):
        logger.info("audit anchors", extra=counts)
    return counts


# Once a day: tier holders below their tier's threshold for the grace period go down (docs/retention.md).
@bp.schedule(Rate(1, unit=Rate.DAYS), name="review_tiers")
def review_tiers(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.loyalty import tiers  # loaded by this schedule's function only

    counts = tiers.review_due(utcnow())
    if any(counts.values()):
        logger.info("tier reviews", extra=counts)
    return counts


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="check_stop_loss")
def check_stop_loss(event: CloudWatchEvent) -> dict[str, int]:
    wiring.wire()
    from chalicelib.analytics import stoploss_check  # loaded by this schedule's function only

    counts = stoploss_check.check(utcnow())
    if counts["tripped"] or counts["errors"]:
        logger.info("stop-loss check", extra=counts)
    return counts


def _observe(handlers: dict[str, Any]) -> None:
    """Give every handler here the observability middleware (Lambda context in the logs, the metrics flush).
    Deployed, each function imports this module and never `app`, while Chalice attaches the app's middleware
    to a blueprint's handler only when the blueprint is registered on the app; registering replaces this list
    with the app's, which holds the same chain."""
    for handler in handlers.values():
        if isinstance(handler, EventSourceHandler):
            event_type = "scheduled" if handler.event_class is CloudWatchEvent else "pure_lambda"
            handler.middleware_handlers = observability.chain(event_type)


_observe(globals())
