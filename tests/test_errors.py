import pytest

import t0lake
from t0lake import errors


def test_every_error_derives_from_the_root() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, t0lake.T0LakeError)
        assert getattr(t0lake, name) is cls


def test_context_is_kept_and_serialised_without_nones() -> None:
    exc = errors.IntegrityError(
        "day 2026-01-02 column x mismatch", day="2026-01-02", column="x", file=None
    )
    assert exc.context == {"day": "2026-01-02", "column": "x"}
    assert exc.to_dict() == {
        "error": "IntegrityError",
        "message": str(exc),
        "day": "2026-01-02",
        "column": "x",
    }


def test_bad_input_errors_exit_2_and_others_1() -> None:
    assert errors.ConfigError("x").exit_code == 2
    assert errors.UnsupportedTypeError("x").exit_code == 2
    assert errors.NotCertifiedError("x").exit_code == 1
    with pytest.raises(errors.ConfigError):
        raise errors.UnsupportedTypeError("no canonical encoding")
