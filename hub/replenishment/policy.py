"""The parameters of replenishment: how demand is smoothed, what service level safety stock
protects, how far ahead an order covers. Defaults are documented in ``docs/replenishment.md``;
every figure the suggestions show can be recomputed by hand from these and the history."""

from __future__ import annotations

from statistics import NormalDist

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ReplenishmentPolicy"]


class ReplenishmentPolicy(BaseModel):
    """Parameters of the demand, safety stock and order quantity formulas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="EWMA smoothing weight of the newest day (higher reacts faster, noisier).",
    )
    history_days: int = Field(
        default=56, ge=7, le=730, description="Whole days of demand history read before as_of."
    )
    min_history_days: int = Field(
        default=7, ge=1, description="Fewer days of history than this: no suggestion."
    )
    season_min_days: int = Field(
        default=14,
        ge=7,
        description="Days needed (two of each weekday) before a weekly seasonal index is used.",
    )
    service_level: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="Probability of not running out during a lead time (cycle service level).",
    )
    review_period_days: float = Field(
        default=7, ge=0, description="Days between reviews: the order covers them on top of ROP."
    )
    default_lead_time_days: float | None = Field(
        default=None,
        gt=0,
        description="Lead time for a SKU whose supplier has no received purchase order yet; "
        "None means such a SKU gets no suggestion.",
    )
    lead_time_samples: int = Field(
        default=12, ge=1, description="Most recent received purchase orders per supplier used."
    )
    order_cost: float | None = Field(
        default=None, gt=0, description="Fixed cost of placing one order (EOQ, with holding_cost)."
    )
    holding_cost: float | None = Field(
        default=None, gt=0, description="Cost of holding one unit for a year (EOQ)."
    )

    @model_validator(mode="after")
    def _eoq_pair(self) -> ReplenishmentPolicy:
        if (self.order_cost is None) != (self.holding_cost is None):
            raise ValueError("order_cost and holding_cost go together (EOQ needs both)")
        return self

    @property
    def z(self) -> float:
        """The standard normal quantile of the service level (1.6449 at 95%)."""
        return NormalDist().inv_cdf(self.service_level)
