"""The error tree: every kerasx error is a KerasxError and the matching built-in."""

from __future__ import annotations

import pytest

from kerasx import errors

BUILTIN = {
    errors.ConfigurationError: ValueError,
    errors.DataError: ValueError,
    errors.SerializationError: ValueError,
    errors.UnsafeModelError: ValueError,
    errors.ExportError: ValueError,
    errors.CorruptFileError: OSError,
    errors.MissingFileError: FileNotFoundError,
    errors.MissingDependencyError: ImportError,
    errors.DeviceError: RuntimeError,
    errors.TrainingError: RuntimeError,
}


def test_every_public_error_is_covered_here():
    public = {getattr(errors, name) for name in errors.__all__} - {errors.KerasxError}
    assert public == set(BUILTIN)


@pytest.mark.parametrize(("cls", "builtin"), BUILTIN.items(), ids=lambda v: v.__name__)
def test_error_derives_from_kerasx_error_and_builtin(cls, builtin):
    with pytest.raises(builtin) as info:
        raise cls("message")
    assert isinstance(info.value, errors.KerasxError)
    assert str(info.value) == "message"


def test_unsafe_model_error_keeps_findings():
    error = errors.UnsafeModelError("unsafe", findings=["layer 'l': Lambda"])
    assert error.findings == ["layer 'l': Lambda"]
    assert isinstance(error, errors.SerializationError)
    assert errors.UnsafeModelError("x").findings == []


def test_export_error_is_a_serialization_error_with_details():
    error = errors.ExportError("differs", format="onnx", output="y", max_abs_diff=0.5)
    assert isinstance(error, errors.SerializationError)
    assert (error.format, error.layer, error.output, error.max_abs_diff) == ("onnx", None, "y", 0.5)
