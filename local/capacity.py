"""Capacity plan for a peak request rate: the quotas and settings docs/deploy.md derives, from the same formulas.

    python -m local.capacity --rps 80000 [--mix join=0.2,click=0.1,event=0.2,read=0.5] [--cpu-ms-per-request 7.6] ...

Pure functions (`plan`, `rows`) and a CLI that prints the plan as a table. The inputs that are measured
(CPU per request and per cold start, from `make bench`) or assumed (the request mix, how much of it one
campaign takes) are options; the AWS limits and the table's shard counts are constants below, the
latter read from the code that uses them so that the plan follows the key design.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.table.keys import PARTICIPANT_SHARDS, PROFILE_SHARDS

# The analytics counters' shard items (chalicelib/analytics/store/counters.py SHARDS). Not imported: that
# module pulls in botocore, and the figure only labels the table. All of them share one partition key.
COUNTER_SHARDS = 8

# AWS limits (docs/deploy.md cites the pages).
PARTITION_WU = 1_000  # write units/s one partition serves (a table's or a GSI's)
PARTITION_RU = 3_000  # read units/s one partition serves
PLAN_FRACTION = 0.8  # plan hot keys at 80 % of a partition, for uneven spread within a second
TABLE_QUOTA = 40_000  # default on-demand read or write units/s per table (and per GSI)
COLD_TABLE_WU, COLD_TABLE_RU = 4_000, 12_000  # what a new on-demand table serves at once
APIGW_ACCOUNT_RPS = 10_000  # default account throttle per region, all APIs together
LAMBDA_ACCOUNT_CONCURRENCY = 1_000  # default concurrent executions per account and region
LAMBDA_SCALE_STEP, LAMBDA_SCALE_SECONDS = 1_000, 10  # new environments per function per 10 s
MAX_PARALLELIZATION = 10  # concurrent batches per stream shard
FULL_CORE_MB = 1_769  # Lambda memory at which a function gets one full vCPU
OTHER_CONCURRENCY = 20  # the scheduled functions and slack for the console and merchant servers
UNRESERVED_MINIMUM = 100  # Lambda keeps this much of the account's concurrency out of provisioned concurrency

# The stream handler's own writes (bench/engine.py counts them). Per join: the inviter's progress (a set
# union on the inviter's participant item, at worst one per join) and the joiner's profile (one per person
# per batch). Both items carry keys of both GSIs, whose projection is ALL, so each write is also one write
# on GSI1 and one on GSI2.
HANDLER_WRITES_PER_JOIN = 2
# A reward is one transaction of the reward item, its rule's stock item and the campaign's budget item:
# 2 WU each, and a stream record each.
REWARD_ITEMS = 3
# Per batch and campaign: the analytics counters (one transaction: a counter item and a 1 KB marker) and
# the leaderboard (one conditional replace of the top-100 item, after a consistent read of it).
COUNTER_MARKER_KB = 1
BATCH_RECORDS = 3  # the counter item, its marker and the leaderboard


@dataclass(frozen=True)
class Kind:
    """One kind of API request: its synchronous cost on the table (each write also makes a stream record)."""

    writes_wu: float  # write units on the table, synchronously (items up to 1 KB)
    reads_ru: float  # read units (an eventually consistent read of up to 4 KB is 0.5)
    index_wu: float  # write units on each of GSI1 and GSI2


# What each kind costs, from the hot-path rule; bench/engine.py measures the join's (1.00 write and
# 1.02 reads per registration).
KINDS: dict[str, Kind] = {
    # POST /v1/campaigns/{cid}/participants: one conditional put keyed by the joiner's own invite code,
    # carrying a GSI1 key (campaign shard) and a GSI2 key (inviter); the inviter read by code.
    "join": Kind(writes_wu=1.0, reads_ru=0.5, index_wu=1.0),
    # GET /v1/i/{code}: the click fact under its own key, the participant read by code.
    "click": Kind(writes_wu=1.0, reads_ru=0.5, index_wu=0.0),
    # POST /v1/campaigns/{cid}/events: one beacon fact under its own key.
    "event": Kind(writes_wu=1.0, reads_ru=0.0, index_wu=0.0),
    # The public GETs: the campaign from the function's 5 s cache, the caller's participant item.
    "read": Kind(writes_wu=0.0, reads_ru=0.5, index_wu=0.0),
}
DEFAULT_MIX: dict[str, float] = {"join": 0.2, "click": 0.1, "event": 0.2, "read": 0.5}


@dataclass(frozen=True)
class Inputs:
    """What the plan depends on: the peak, the mix of requests, and the figures `make bench` measures."""

    rps: float
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    # CPU at one full core: per request (bench/engine.py "CPU per join", the costliest public request)
    # and of `import app` (bench/coldstart.py). Lambda gives a function memory / 1,769 MB of a core.
    cpu_ms_per_request: float = 7.6
    cold_start_ms: float = 1_032.0
    io_ms_per_request: float = 10.0  # waiting on DynamoDB: two round trips of about 5 ms in-region
    lambda_memory_mb: int = 1_024  # the prod stage's APIHandler (.chalice/config.json)
    headroom: float = 1.3  # over the computed peak, for what the mix does not foresee
    hot_campaign_share: float = 1.0  # of joins and rewards, on the single busiest campaign (and tenant)
    rewards_per_join: float = 0.2  # rewards issued per join (an inviter reaching a milestone)
    batch_size: int = 100  # stream records per handler invocation (the mapping's BatchSize)
    batch_ms: float = 300.0  # handler time for one full batch
    counter_item_kb: float = 2.0  # one analytics counter item (a campaign-day shard)
    leaderboard_kb: float = 5.0  # the leaderboard item: the top 100 inviters with nicknames

    def __post_init__(self) -> None:
        if self.rps < 0 or self.lambda_memory_mb < 128 or self.batch_ms <= 0 or self.headroom < 1:
            raise ValueError("rps must be >= 0, memory >= 128 MB, batch time > 0 and headroom >= 1")
        if self.batch_size <= BATCH_RECORDS or not 0 < self.hot_campaign_share <= 1:
            raise ValueError(f"batch size must be > {BATCH_RECORDS} and the hot campaign's share in (0, 1]")

    def shares(self) -> dict[str, float]:
        """The mix normalised to 1, with every known kind present."""
        unknown = sorted(set(self.mix) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown request kind {', '.join(unknown)}: use {', '.join(KINDS)}")
        total = sum(self.mix.values())
        if total <= 0 or any(share < 0 for share in self.mix.values()):
            raise ValueError("the mix needs non-negative shares that add up to more than 0")
        return {name: self.mix.get(name, 0.0) / total for name in KINDS}


@dataclass(frozen=True)
class HotKey:
    """One family of keys the busiest campaign writes: its write rate, how many keys share it today, and
    how many would keep each under 80 % of a partition."""

    name: str
    total_wu: float
    keys: int

    @property
    def wu_per_key(self) -> float:
        return self.total_wu / self.keys

    @property
    def needed(self) -> int:
        return max(1, _ceil(self.total_wu / (PARTITION_WU * PLAN_FRACTION)))


@dataclass(frozen=True)
class Plan:
    # API Gateway
    api_rate_limit: int
    api_burst_limit: int
    apigw_account_quota: int
    # API Lambda
    cpu_share: float
    request_ms: float
    api_concurrency: float
    provisioned_concurrency: int
    lambda_cold_start_ms: float
    ramp_seconds: int
    # DynamoDB table and indexes
    joins_per_second: float
    sync_wu: float
    handler_wu: float
    table_wu: float
    table_ru: float
    index_wu: float
    warm_writes: int
    warm_reads: int
    warm_index_writes: int
    table_quota: int
    hot_keys: tuple[HotKey, ...]
    # Stream
    stream_records: float
    batches_per_second: float
    stream_shards: int
    parallelization_factor: int
    stream_concurrency: int
    # Account concurrency
    lambda_account_quota: int


def _up(value: float, step: int) -> int:
    """`value` rounded up to a multiple of `step` (the figures one asks a quota for)."""
    return int(math.ceil(round(value, 6) / step) * step)


def _ceil(value: float) -> int:
    # Rounded first so that 1,200.0000001 from float arithmetic does not become 1,201.
    return math.ceil(round(value, 6))


def plan(inputs: Inputs) -> Plan:
    """The capacity plan for `inputs`; docs/deploy.md ("Inputs and formulas") writes out each formula."""
    shares = inputs.shares()
    rps, headroom = inputs.rps, inputs.headroom
    rate = {name: rps * share for name, share in shares.items()}
    joins = rate["join"]
    rewards = joins * inputs.rewards_per_join
    hot_joins, hot_rewards = joins * inputs.hot_campaign_share, rewards * inputs.hot_campaign_share

    # API Gateway: the stage admits the peak with headroom; the account quota covers the stage.
    api_rate = _up(rps * headroom, 1_000)
    api_burst = _up(api_rate / 2, 1_000)  # AWS sets the account's burst at half its rate quota
    apigw_quota = max(APIGW_ACCOUNT_RPS, _up(api_rate, 10_000))

    # API Lambda: duration = CPU at the function's share of a core + waiting; concurrency = rate x duration.
    cpu_share = min(1.0, inputs.lambda_memory_mb / FULL_CORE_MB)
    request_ms = inputs.cpu_ms_per_request / cpu_share + inputs.io_ms_per_request
    concurrency = rps * request_ms / 1_000
    provisioned = _ceil(concurrency * headroom)
    cold_start = inputs.cold_start_ms / cpu_share
    # The first 1,000 environments come at once, each further 1,000 ten seconds later.
    ramp = max(0, _ceil(concurrency / LAMBDA_SCALE_STEP) - 1) * LAMBDA_SCALE_SECONDS

    # Stream: every write is a record, the handler's own too. Per-batch writes ride the stream as well:
    # batches = (request records + per-join and per-reward records) / (batch size - per-batch records).
    sync_wu = sum(rate[name] * kind.writes_wu for name, kind in KINDS.items())
    flow_records = sync_wu + joins * HANDLER_WRITES_PER_JOIN + rewards * REWARD_ITEMS
    batches = flow_records / (inputs.batch_size - BATCH_RECORDS)
    records = flow_records + batches * BATCH_RECORDS
    # The busiest campaign has a fact in every batch once its records outnumber the batches.
    hot_batches = min(batches, records * inputs.hot_campaign_share)

    # Table writes and reads, synchronous and the stream handler's.
    counter_wu = 2 * (COUNTER_MARKER_KB + math.ceil(inputs.counter_item_kb))  # transactional: 2 WU per KB
    board_wu = math.ceil(inputs.leaderboard_kb)
    handler_wu = joins * HANDLER_WRITES_PER_JOIN + rewards * REWARD_ITEMS * 2 + batches * (counter_wu + board_wu)
    table_wu = sync_wu + handler_wu
    board_ru = math.ceil(inputs.leaderboard_kb / 4)  # the consistent read before each replace
    table_ru = sum(rate[name] * kind.reads_ru for name, kind in KINDS.items()) + batches * board_ru
    index_wu = sum(rate[name] * kind.index_wu for name, kind in KINDS.items()) + joins * HANDLER_WRITES_PER_JOIN
    warm_writes = max(COLD_TABLE_WU, _up(table_wu * headroom, 1_000))
    warm_reads = max(COLD_TABLE_RU, _up(table_ru * headroom, 1_000))
    warm_index = max(COLD_TABLE_WU, _up(index_wu * headroom, 1_000))
    quota = max(TABLE_QUOTA, _up(max(warm_writes, warm_reads, warm_index), 10_000))

    # Hot keys of the busiest campaign and tenant, each against one partition.
    hot_keys = (
        # GSI1 `C#{cid}#P#{shard}`: the new participant and the inviter's progress update.
        HotKey("GSI1 participants by campaign", 2 * hot_joins, PARTICIPANT_SHARDS),
        # GSI1 by tenant and shard, GSI2 `T#{tid}#SEEN#{day}`: every profile write of the tenant that day.
        HotKey("GSI1 profiles by tenant", hot_joins, PROFILE_SHARDS),
        HotKey("GSI2 profiles by last-seen day", hot_joins, 1),
        # `C#{cid}#AGG#{day}`: the shard items share the partition key, so they share one partition.
        HotKey("analytics counters of a day", hot_batches * counter_wu, 1),
        HotKey("leaderboard", hot_batches * board_wu, 1),
        # `C#{cid}#STOCK#{rule}` and `C#{cid}#BUDGET`, 2 WU each in every reward transaction.
        HotKey("reward stock (and budget)", hot_rewards * 2, 1),
    )

    # Stream shards: about one per partition of the warmed table; each must drain its share of records.
    shards = max(_ceil(warm_writes / PARTITION_WU), _ceil(warm_reads / PARTITION_RU))
    per_batch = inputs.batch_size / (inputs.batch_ms / 1_000)
    factor = min(MAX_PARALLELIZATION, max(1, _ceil(records / shards * headroom / per_batch)))
    stream_concurrency = shards * factor

    account = _up(provisioned + max(UNRESERVED_MINIMUM, stream_concurrency + OTHER_CONCURRENCY), 1_000)
    return Plan(
        api_rate_limit=api_rate,
        api_burst_limit=api_burst,
        apigw_account_quota=apigw_quota,
        cpu_share=cpu_share,
        request_ms=request_ms,
        api_concurrency=concurrency,
        provisioned_concurrency=provisioned,
        lambda_cold_start_ms=cold_start,
        ramp_seconds=ramp,
        joins_per_second=joins,
        sync_wu=sync_wu,
        handler_wu=handler_wu,
        table_wu=table_wu,
        table_ru=table_ru,
        index_wu=index_wu,
        warm_writes=warm_writes,
        warm_reads=warm_reads,
        warm_index_writes=warm_index,
        table_quota=quota,
        hot_keys=hot_keys,
        stream_records=records,
        batches_per_second=batches,
        stream_shards=shards,
        parallelization_factor=factor,
        stream_concurrency=stream_concurrency,
        lambda_account_quota=max(LAMBDA_ACCOUNT_CONCURRENCY, account),
    )


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _verdict(key: HotKey) -> str:
    per_key = key.wu_per_key
    state = f"OVER ({per_key / PARTITION_WU:.1f}x a partition)" if per_key > PARTITION_WU * PLAN_FRACTION else "ok"
    return f"{_n(per_key)} on each of {key.keys} keys, {state}; {key.needed} needed"


def rows(p: Plan, inputs: Inputs) -> list[tuple[str, str, str]]:
    """The plan as (setting, value, how) rows, in the order docs/deploy.md discusses them."""
    h = f"x {inputs.headroom}"
    raise_if = {True: "default", False: "raise"}
    return [
        ("API Gateway account throttle quota (rps)", _n(p.apigw_account_quota),
         raise_if[p.apigw_account_quota == APIGW_ACCOUNT_RPS]),
        ("api_rate_limit / api_burst_limit", f"{_n(p.api_rate_limit)} / {_n(p.api_burst_limit)}",
         f"peak {h}; burst half the rate"),
        ("API Lambda: share of a core", f"{p.cpu_share:.2f}", f"{inputs.lambda_memory_mb} MB / {FULL_CORE_MB} MB"),
        ("API Lambda: ms per request", f"{p.request_ms:.1f}",
         f"{inputs.cpu_ms_per_request:g} ms CPU / share + {inputs.io_ms_per_request:g} ms waiting"),
        ("API Lambda: concurrency at peak", _n(p.api_concurrency), "rps x ms per request"),
        ("api_provisioned_concurrency", _n(p.provisioned_concurrency), f"concurrency {h}"),
        ("API Lambda: cold start (ms)", _n(p.lambda_cold_start_ms), f"{inputs.cold_start_ms:g} ms CPU / share"),
        ("API Lambda: on-demand ramp from zero (s)", _n(p.ramp_seconds), "1,000 more environments per 10 s"),
        ("Lambda account concurrency quota", _n(p.lambda_account_quota),
         raise_if[p.lambda_account_quota == LAMBDA_ACCOUNT_CONCURRENCY]),
        ("joins/s", _n(p.joins_per_second), "rps x join share"),
        ("table writes: requests (WU/s)", _n(p.sync_wu), "one per join, click and event"),
        ("table writes: stream handler (WU/s)", _n(p.handler_wu), "progress, profiles, rewards, counters, board"),
        ("table reads (RU/s)", _n(p.table_ru), "0.5 per eventually consistent read"),
        ("warm_writes_per_second", _n(p.warm_writes), f"all writes {h}, whole thousands"),
        ("warm_reads_per_second", _n(p.warm_reads), f"reads {h}, whole thousands"),
        ("writes on GSI1, and on GSI2 (WU/s)", _n(p.index_wu), f"each index warmed to {_n(p.warm_index_writes)}"),
        ("on-demand throughput quota per table (units/s)", _n(p.table_quota), raise_if[p.table_quota == TABLE_QUOTA]),
        *((f"hot keys: {key.name} (WU/s)", _n(key.total_wu), _verdict(key)) for key in p.hot_keys),
        ("stream records/s", _n(p.stream_records), "every write, the handler's own too"),
        ("stream batches/s", _n(p.batches_per_second), f"batches of {inputs.batch_size}"),
        ("stream shards (about one per partition)", _n(p.stream_shards), "warm writes / 1,000, or reads / 3,000"),
        ("ParallelizationFactor", _n(p.parallelization_factor), f"{inputs.batch_ms:g} ms per batch; at most 10"),
        ("StreamHandler concurrency", _n(p.stream_concurrency), "shards x factor"),
    ]  # fmt: skip


def parse_mix(text: str) -> dict[str, float]:
    """`join=0.2,read=0.8` -> {"join": 0.2, "read": 0.8}; raises ValueError on a malformed entry."""
    mix: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = entry.partition("=")
        if not sep:
            raise ValueError(f"bad mix entry {entry!r}: use kind=share")
        mix[name.strip()] = float(value)
    return mix


def render(table: Sequence[tuple[str, str, str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    return "\n".join(f"{a.ljust(widths[0])}  {b.rjust(widths[1])}  {c}".rstrip() for a, b, c in table)


def main(argv: list[str] | None = None) -> int:
    defaults = Inputs(rps=0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rps", type=float, required=True, help="peak API requests per second")
    parser.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()),
                        help=f"request kinds and shares ({', '.join(KINDS)})")  # fmt: skip
    for name in ("cpu_ms_per_request", "cold_start_ms", "io_ms_per_request", "headroom", "hot_campaign_share",
                 "rewards_per_join", "batch_ms", "counter_item_kb"):  # fmt: skip
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    for name in ("lambda_memory_mb", "batch_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    try:
        inputs = Inputs(
            rps=args.rps,
            mix=parse_mix(args.mix),
            **{name: getattr(args, name) for name in vars(args) if name not in ("rps", "mix")},
        )
        table = rows(plan(inputs), inputs)
    except ValueError as exc:
        parser.error(str(exc))
    print(render([("setting", "value", "how"), *table]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
