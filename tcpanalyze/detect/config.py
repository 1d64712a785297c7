"""Every detection threshold, with its default, in one nested dataclass.

>>> cfg = DetectConfig.from_toml("thresholds.toml")          # [syn_flood] min_rate_per_s = 50 ...
>>> cfg = cfg.with_overrides({"syn_flood.min_rate_per_s": 50, "rst_teardown.enabled": "false"})

Each detector's section has the fields of its config class (defaults and the reasons for
them are in the detector's module and in docs/anomalies.md). Unknown sections or keys and
values of the wrong type are ``UsageError``s naming the file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from .backlog import BacklogOverflowConfig
from .backscatter import BackscatterConfig
from .floods import SynFloodConfig
from .handshakes import HandshakeFailuresConfig
from .idle import IdleExhaustionConfig
from .injection import InjectionConfig
from .resets import RstStormConfig, RstTeardownConfig
from .retransmissions import RetransmissionStormConfig
from .scans import AddressSweepConfig, PortScanConfig
from .stalls import ZeroWindowStallConfig


@dataclass
class DetectConfig:
    """Thresholds of every detector; one section (field) per detector, named by its kind."""

    syn_flood: SynFloodConfig = field(default_factory=SynFloodConfig)
    backscatter: BackscatterConfig = field(default_factory=BackscatterConfig)
    port_scan: PortScanConfig = field(default_factory=PortScanConfig)
    address_sweep: AddressSweepConfig = field(default_factory=AddressSweepConfig)
    rst_teardown: RstTeardownConfig = field(default_factory=RstTeardownConfig)
    rst_storm: RstStormConfig = field(default_factory=RstStormConfig)
    backlog_overflow: BacklogOverflowConfig = field(default_factory=BacklogOverflowConfig)
    zero_window_stall: ZeroWindowStallConfig = field(default_factory=ZeroWindowStallConfig)
    retransmission_storm: RetransmissionStormConfig = field(default_factory=RetransmissionStormConfig)
    handshake_failures: HandshakeFailuresConfig = field(default_factory=HandshakeFailuresConfig)
    idle_exhaustion: IdleExhaustionConfig = field(default_factory=IdleExhaustionConfig)
    injection: InjectionConfig = field(default_factory=InjectionConfig)

    @classmethod
    def from_toml(cls, path: str) -> DetectConfig:
        """Defaults overridden by a TOML file: ``[section]`` per detector, keys = field names."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None
        overrides: dict[str, Any] = {}
        for section, values in data.items():
            if not isinstance(values, dict):
                raise UsageError(f"{path}: key '{section}' must be a [section]; {_sections_hint()}")
            overrides.update({f"{section}.{key}": value for key, value in values.items()})
        return cls().with_overrides(overrides, source=path)

    def with_overrides(self, overrides: dict[str, Any], *, source: str = "--set") -> DetectConfig:
        """A copy with ``{"section.field": value}`` applied; text values (from the CLI) are parsed."""
        sections = {f.name: dataclasses.replace(getattr(self, f.name)) for f in dataclasses.fields(self)}
        for dotted, value in overrides.items():
            section, _, key = dotted.partition(".")
            if section not in sections:
                close = difflib.get_close_matches(section, sections, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise UsageError(f"{source}: unknown section '{section}' in '{dotted}'; {hint}{_sections_hint()}")
            fields = {f.name: f for f in dataclasses.fields(sections[section])}
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f"did you mean '{section}.{close[0]}'? " if close else ""
                raise UsageError(f"{source}: unknown key '{dotted}'; {hint}[{section}] takes {', '.join(fields)}")
            setattr(sections[section], key, _coerce(value, fields[key], dotted, source))
        return DetectConfig(**sections)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def _sections_hint() -> str:
    return "sections are " + ", ".join(f.name for f in dataclasses.fields(DetectConfig))


def _coerce(value: Any, fld: dataclasses.Field, dotted: str, source: str) -> Any:
    kind = {"bool": bool, "int": int, "float": float}[fld.type if isinstance(fld.type, str) else fld.type.__name__]
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            if kind is bool:
                if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                return text in ("true", "1", "yes", "on")
            return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
        except ValueError:
            raise UsageError(f"{source}: '{dotted}' must be {kind.__name__}, got '{value}'") from None
    if kind is bool and isinstance(value, bool):
        return value
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise UsageError(f"{source}: '{dotted}' must be {kind.__name__}, got {value!r}")
