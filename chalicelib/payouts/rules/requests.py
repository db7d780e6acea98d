"""What participants and finance send about withdrawals, and the bank-transfer CSV finance downloads (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.payouts.rules.policy import MAX_WITHDRAW_FEN, Method

_Wid = Annotated[str, Field(pattern=r"^wd_[0-9a-f]{24}$")]


class WithdrawalCreate(BaseModel):
    """A withdrawal request: the gross amount leaves the wallet, the fee is taken from it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount_fen: int = Field(ge=1, le=MAX_WITHDRAW_FEN, description="Gross amount in fen, fee included.")
    method: Method
    destination: str = Field(
        min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_@.+\-]+$",
        description="wechat: the openid under the paying app; alipay: the login id (phone or email) or user id; "
        "bank: the account number.",
    )  # fmt: skip
    name: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="The account holder's real name: required for bank, checked by providers that check names.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _bank_needs_a_name(self) -> WithdrawalCreate:
        if self.method == "bank" and not self.name:
            raise ValueError("a bank transfer needs the account holder's name")
        if self.method == "bank" and not self.destination.isdigit():
            raise ValueError("a bank account number is digits only")
        return self


class WithdrawalBatch(BaseModel):
    """Finance's decision on several withdrawals at once; a rejection says why (the person sees it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    withdrawal_ids: list[_Wid] = Field(min_length=1, max_length=50)
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class MarkPaid(BaseModel):
    """A withdrawal paid by hand (a bank transfer): the bank's or the payment's reference."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str = Field(min_length=1, max_length=128)


def masked(hint: str) -> str:
    """A destination as views show it: its last four characters only."""
    return "****" + hint


def hint_of(destination: str) -> str:
    return destination[-4:] if len(destination) > 6 else ""


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

BANK_CSV_HEADER = ["withdrawal_id", "account_name", "account_number", "amount_yuan", "fee_yuan", "requested_at"]


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def bank_csv(rows: Iterable[tuple[str, str, str, int, int, str]]) -> str:
    """RFC 4180 text (CRLF line ends): one line per transfer, the net amount to pay in yuan."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_CSV_HEADER)
    for wid, name, account, net, fee, at in rows:
        writer.writerow([wid, _cell(name), _cell(account), yuan(net), yuan(fee), at])
    return out.getvalue()
