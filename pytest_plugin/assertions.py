"""``assert_valid_result``: the runtime validator as a test assertion."""

from __future__ import annotations

import warnings

from netraven_contracts import contract


class ResultContractWarning(UserWarning):
    """A warning-level violation of a result checked in a test (an ad-hoc key, NRJ012)."""


def assert_valid_result(
    result: object,
    *,
    device_id: int | None = None,
    strict: bool = False,
    max_details_bytes: int = contract.DEFAULT_MAX_DETAILS_BYTES,
    max_depth: int = contract.DEFAULT_MAX_DETAILS_DEPTH,
) -> None:
    """Fail the test (``AssertionError``) listing every error-level violation of ``result``.

    ``device_id``: the id of the device the job ran for (a different int is NRJ032). Warnings
    are issued as :class:`ResultContractWarning` (shown in pytest's summary), and fail the
    assertion too with ``strict=True``.
    """
    __tracebackhide__ = True
    from netraven_contracts.runtime import validate_result

    violations = validate_result(result, device_id=device_id, max_details_bytes=max_details_bytes,
                                 max_depth=max_depth)
    failing = [v for v in violations if v.severity.value == "error" or (strict and v.severity.value == "warning")]
    for violation in violations:
        if violation not in failing and violation.severity.value == "warning":
            warnings.warn(f"{violation.code} {violation.message}", ResultContractWarning, stacklevel=2)
    if failing:
        listed = "\n".join(f"  {v.code} [{v.severity.value}]"
                           f"{f' at {v.path}' if v.path else ''}: {v.message}" for v in failing)
        raise AssertionError(f"the result breaks the job-result contract "
                             f"({len(failing)} violation{'s' if len(failing) != 1 else ''}):\n{listed}")
