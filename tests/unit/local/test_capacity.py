"""The capacity calculator's arithmetic, pinned at 3,000 and 80,000 requests/s, and the deploy guide quoting it."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import capacity
from local.capacity import Inputs, plan, render, rows

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "docs" / "deploy.md"
# The two plans docs/deploy.md works through, with the command it shows for each.
SALE = Inputs(rps=3_000, mix={"join": 1.0})
PEAK = Inputs(rps=80_000)


def _table(inputs: Inputs) -> str:
    return render([("setting", "value", "how"), *rows(plan(inputs), inputs)])


def test_a_3000_joins_per_second_sale_fits_the_default_quotas_but_needs_a_warm_table() -> None:
    p = plan(SALE)

    assert (p.api_rate_limit, p.api_burst_limit, p.apigw_account_quota) == (4_000, 2_000, 10_000)
    assert p.request_ms == pytest.approx(7.6 * 1_769 / 1_024 + 10)
    assert p.api_concurrency == pytest.approx(69.39, abs=0.01)
    assert (p.provisioned_concurrency, p.ramp_seconds, p.lambda_account_quota) == (91, 0, 1_000)
    assert p.lambda_cold_start_ms == pytest.approx(1_783, abs=0.5)
    # 3,000 puts; the handler: 6,000 progress and profile writes, 600 rewards x 3 items x 2 WU, and
    # 111 batches x (6 WU counters + 5 WU leaderboard).
    assert p.sync_wu == 3_000
    assert p.batches_per_second == pytest.approx(10_800 / 97)
    assert p.handler_wu == pytest.approx(6_000 + 3_600 + 10_800 / 97 * 11)
    assert (p.warm_writes, p.warm_reads, p.warm_index_writes, p.table_quota) == (18_000, 12_000, 12_000, 40_000)
    assert (p.stream_shards, p.parallelization_factor, p.stream_concurrency) == (18, 3, 54)


def test_a_3000_joins_per_second_sale_overruns_the_unsharded_profile_and_stock_keys() -> None:
    hot = {key.name: key for key in plan(SALE).hot_keys}

    assert {name: key.needed for name, key in hot.items()} == {
        "GSI1 participants by campaign": 8,
        "GSI1 profiles by tenant": 4,
        "GSI2 profiles by last-seen day": 4,
        "analytics counters of a day": 1,
        "leaderboard": 1,
        "reward stock (and budget)": 2,
    }
    assert hot["GSI1 participants by campaign"].wu_per_key == 375
    assert hot["GSI2 profiles by last-seen day"].wu_per_key == 3_000


def test_the_80000_requests_per_second_peak_needs_raised_quotas_everywhere() -> None:
    p = plan(PEAK)

    assert (p.api_rate_limit, p.api_burst_limit, p.apigw_account_quota) == (104_000, 52_000, 110_000)
    assert p.api_concurrency == pytest.approx(1_850.3, abs=0.1)
    assert (p.provisioned_concurrency, p.ramp_seconds, p.lambda_account_quota) == (2_406, 10, 3_000)
    assert p.joins_per_second == 16_000
    assert p.sync_wu == 40_000
    assert round(p.handler_wu) == 60_454
    assert round(p.table_ru) == 33_682
    assert (p.warm_writes, p.warm_reads, p.index_wu, p.warm_index_writes) == (131_000, 44_000, 48_000, 63_000)
    assert p.table_quota == 140_000
    assert (round(p.stream_records), round(p.batches_per_second)) == (84_124, 841)
    assert (p.stream_shards, p.parallelization_factor, p.stream_concurrency) == (131, 3, 393)


def test_at_the_80000_peak_every_single_campaign_key_family_is_over_a_partition() -> None:
    hot = {key.name: (round(key.wu_per_key), key.keys, key.needed) for key in plan(PEAK).hot_keys}

    assert hot == {
        "GSI1 participants by campaign": (2_000, 16, 40),
        "GSI1 profiles by tenant": (1_000, 16, 20),
        "GSI2 profiles by last-seen day": (16_000, 1, 20),
        "analytics counters of a day": (5_047, 1, 7),
        "leaderboard": (4_206, 1, 6),
        "reward stock (and budget)": (6_400, 1, 8),
    }


def test_spreading_the_peak_over_fifty_campaigns_cools_the_per_join_keys_but_not_the_per_batch_ones() -> None:
    spread = {key.name: key.needed for key in plan(Inputs(rps=80_000, hot_campaign_share=0.02)).hot_keys}

    # 2 % of 84,124 records/s is still more than the 841 batches/s: the campaign is in every batch.
    assert spread == {
        "GSI1 participants by campaign": 1,
        "GSI1 profiles by tenant": 1,
        "GSI2 profiles by last-seen day": 1,
        "analytics counters of a day": 7,
        "leaderboard": 6,
        "reward stock (and budget)": 1,
    }


def test_more_memory_shortens_requests_and_cold_starts_up_to_a_full_core() -> None:
    full = plan(Inputs(rps=80_000, lambda_memory_mb=1_769))
    more = plan(Inputs(rps=80_000, lambda_memory_mb=3_008))

    assert full.request_ms == more.request_ms == pytest.approx(17.6)
    assert full.lambda_cold_start_ms == 1_032
    assert full.provisioned_concurrency == 1_831


def test_the_mix_is_normalised_and_unknown_kinds_or_empty_mixes_are_refused() -> None:
    assert Inputs(rps=1, mix={"join": 2, "read": 2}).shares() == {"join": 0.5, "click": 0.0, "event": 0.0, "read": 0.5}
    with pytest.raises(ValueError, match="unknown request kind poster"):
        Inputs(rps=1, mix={"poster": 1}).shares()
    with pytest.raises(ValueError, match="non-negative"):
        Inputs(rps=1, mix={"join": 0}).shares()
    with pytest.raises(ValueError, match="kind=share"):
        capacity.parse_mix("join")


def test_inputs_out_of_range_are_refused_and_the_cli_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="batch size must be > 3"):
        Inputs(rps=1, batch_size=3)

    with pytest.raises(SystemExit) as exit_:
        capacity.main(["--rps", "-5"])

    assert exit_.value.code == 2
    assert "rps must be >= 0" in capsys.readouterr().err


def test_the_cli_prints_the_plan_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["--rps", "80000"]) == 0

    assert capsys.readouterr().out == _table(PEAK) + "\n"


@pytest.mark.parametrize(("command", "inputs"), [("--rps 3000 --mix join=1", SALE), ("--rps 80000", PEAK)])
def test_the_deploy_guide_quotes_the_calculators_tables_as_they_are(command: str, inputs: Inputs) -> None:
    guide = DEPLOY.read_text(encoding="utf-8")

    assert f"python -m local.capacity {command}\n" in guide
    assert _table(inputs) in guide, f"rerun `python -m local.capacity {command}` into docs/deploy.md"


def test_the_deploy_guide_states_the_80000_headline_figures() -> None:
    guide = DEPLOY.read_text(encoding="utf-8")

    for figure in ("110,000", "2,406", "3,000", "131,000", "44,000", "63,000", "140,000", "393"):
        assert figure in guide
