"""`--config_overrides "hidden_size=32,hidden_act=gelu,classifier_dropout=none"`: typed edits of a
`SeedformerConfig` from one command-line string, shared by the pretraining and finetuning runners.

Each value is read as the type of its config field, so a typo fails before any model is built, with a message that
names the field, the value and what the field takes.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from ..configuration import SeedformerConfig


def parse_config_overrides(overrides: str | None) -> dict:
    """`"hidden_size=32,hidden_act=gelu,sparse_prediction=true,classifier_dropout=none"` -> typed dict.

    Each value is read as the type of its SeedformerConfig field (int, float, bool as true/false, str; `none` where
    the field allows None). ValueError naming the field, the value and the type it takes.
    """
    if not overrides:
        return {}
    fields = {f.name: f for f in dataclasses.fields(SeedformerConfig)}
    out = {}
    for item in overrides.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise ValueError(f"--config_overrides: expected key=value, got {item!r}.")
        key, value = (s.strip() for s in item.split("=", 1))
        if key not in fields:
            raise ValueError(f"--config_overrides: {key!r} is not a SeedformerConfig field.")
        field_type = fields[key].type
        if isinstance(field_type, str):  # an annotation left as a string: go by the default's type
            default = fields[key].default
            field_type = type(default) if isinstance(default, (bool, int, float, str)) else str
            if default is None:
                field_type = str | None
        try:
            out[key] = _parse_as(value, field_type)
        except ValueError:
            raise ValueError(
                f"--config_overrides: {key}={value!r} is not valid: the SeedformerConfig field {key!r} takes "
                f"{_type_words(field_type)}; write e.g. {key}={_example(field_type)}."
            ) from None
    return out


_NONE_WORDS = ("none", "null")
_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _parse_as(text: str, field_type):
    """`text` as a value of `field_type` (int, float, bool, str, Literal, or a union of them); ValueError if not."""
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in _NONE_WORDS and type(None) in args:
            return None
        for option in args:
            if option is not type(None):
                try:
                    return _parse_as(text, option)
                except ValueError:
                    continue
        raise ValueError(text)
    if origin is typing.Literal:
        if text in args:
            return text
        raise ValueError(text)
    if field_type is bool:
        if text.lower() not in _BOOL_WORDS:
            raise ValueError(text)
        return _BOOL_WORDS[text.lower()]
    if field_type is int:
        return int(text)
    if field_type is float:
        return float(text)
    if field_type is str:
        return text
    raise ValueError(text)  # lists, dicts: not expressible in a comma-separated flag


def _type_words(field_type) -> str:
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if origin in (typing.Union, types.UnionType):
        words = [_type_words(a) for a in args if typing.get_origin(a) not in (list, dict)]  # lists: not on a flag
        if "a number" in words and "an integer" in words:
            words.remove("an integer")
        return " or ".join(dict.fromkeys(words))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, args))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "none"}.get(
        field_type, getattr(field_type, "__name__", str(field_type)) + " (not settable here)"
    )


def _example(field_type) -> str:
    args = [a for a in typing.get_args(field_type) if a is not type(None)] or [field_type]
    return {bool: "true", int: "256", float: "0.1", str: "text"}.get(args[0], "...")


def apply_config_overrides(config, overrides: str | None):
    """Set `--config_overrides` on a loaded config (fields typed by `parse_config_overrides`) and validate the
    result, so that a bad combination is refused before a model is built. Returns the config."""
    for key, value in parse_config_overrides(overrides).items():
        setattr(config, key, value)
    config.validate()
    return config
