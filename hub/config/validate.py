"""Validating a deployment file and reporting every problem where a person can fix it.

Each problem is ``FILE:LINE:COLUMN: message``: unknown keys (with a did-you-mean), wrong types,
unknown connector types, connector settings their connector refuses, secrets written inline or
missing from the environment, and references that point nowhere (a route from an instance that
does not exist, a connector on an undeclared channel). All problems are reported at once, so a
person fixes a file in one pass rather than one error per run.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError

from canonical import EVENT_TYPES
from hub.config.model import Deployment
from hub.config.positions import Located, YamlError, load_located
from hub.config.secrets import MissingSecretError, resolve_reference
from hub.errors import ConfigurationError

__all__ = ["DeploymentInvalidError", "Problem", "load_deployment", "secret_fields", "validate_text"]

PathT = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class DeploymentInvalidError(ConfigurationError):
    """The deployment file has problems; ``problems`` lists every one with its position."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def secret_fields(model: type[BaseModel]) -> set[str]:
    """Names of the fields of a connector config model that hold secrets (``SecretStr``)."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        candidates = [annotation, *get_args(annotation)] if get_origin(annotation) else [annotation]
        if any(isinstance(c, type) and issubclass(c, SecretStr) for c in candidates):
            names.add(name)
    return names


def _unwrap(annotation: Any) -> Any:
    """``M | None`` -> ``M``: optionals are transparent when walking a path."""
    while get_origin(annotation) is not None and get_origin(annotation) not in (
        dict,
        list,
        tuple,
        set,
        frozenset,
    ):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1 or get_origin(annotation) is Literal:
            break
        annotation = args[0]
    return annotation


def _model_at(model: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model that validates the object at ``path`` below ``model``, if one does."""
    current: Any = model
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, list, tuple, set, frozenset):
            current = get_args(current)[-1]  # a key or an index: step into the values
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


class _Collector:
    def __init__(self, filename: str, located: Located) -> None:
        self.filename = filename
        self.located = located
        self.problems: list[Problem] = []

    def add(self, path: PathT, message: str, *, key: bool = False) -> None:
        position = self.located.position_of(path, key=key)
        self.problems.append(Problem(self.filename, position.line, position.column, message))

    def from_validation(
        self, error: ValidationError, root: type[BaseModel], prefix: PathT = ()
    ) -> None:
        for item in error.errors(include_url=False, include_input=False):
            loc = tuple(item["loc"])
            path = (*prefix, *loc)
            dotted = ".".join(str(p) for p in path)
            if item["type"] == "extra_forbidden":
                parent = _model_at(root, loc[:-1])
                hint = did_you_mean(str(loc[-1]), _field_names(parent)) if parent else ""
                self.add(
                    path,
                    f"unknown key {loc[-1]!r} in {'.'.join(map(str, path[:-1])) or 'the file'}{hint}",
                    key=True,
                )
            elif item["type"] == "missing":
                self.add(path[:-1], f"{dotted}: required key is missing")
            else:
                self.add(path, f"{dotted}: {item['msg']}")


_PLACEHOLDER = "unresolved-secret-placeholder"


def _resolve(
    collector: _Collector,
    path: PathT,
    key: str,
    reference: str | list[str],
    environ: Mapping[str, str],
    check: bool,
) -> str | list[str]:
    """Resolve one reference (or a list of them), reporting what is missing at its position."""
    if isinstance(reference, list):
        return [
            str(_resolve(collector, (*path, i), key, item, environ, check))
            for i, item in enumerate(reference)
        ]
    if not check:
        return _PLACEHOLDER
    try:
        return resolve_reference(reference, environ)
    except MissingSecretError as exc:
        collector.add(path, f"secret {key!r} is missing: {exc}")
        return _PLACEHOLDER


def _check_tenant(
    collector: _Collector,
    tenant_name: str,
    tenant: Any,
    *,
    connectors: Mapping[str, Any],
    environ: Mapping[str, str],
    check_secrets: bool,
) -> None:
    base: PathT = ("tenants", tenant_name)
    for instance_name, instance in tenant.connectors.items():
        path: PathT = (*base, "connectors", instance_name)
        connector = connectors.get(instance.type)
        if connector is None:
            hint = did_you_mean(instance.type, connectors)
            collector.add(
                (*path, "type"),
                f"unknown connector type {instance.type!r}{hint} (available: {', '.join(connectors)})",
            )
            continue
        if instance.channel is not None and instance.channel not in tenant.channels:
            hint = did_you_mean(instance.channel, tenant.channels)
            collector.add(
                (*path, "channel"),
                f"channel {instance.channel!r} is not declared under tenants.{tenant_name}.channels{hint}",
            )
        if instance.location is not None and instance.location not in tenant.locations:
            hint = did_you_mean(instance.location, tenant.locations)
            collector.add(
                (*path, "location"),
                f"location {instance.location!r} is not declared under tenants.{tenant_name}.locations{hint}",
            )
        offered = connector.poll_specs() if instance.poll else {}
        for poll_name in instance.poll:
            if poll_name not in offered:
                hint = did_you_mean(poll_name, offered)
                collector.add(
                    (*path, "poll", poll_name),
                    f"{instance.type} offers no poll {poll_name!r}{hint} "
                    f"(its polls: {', '.join(offered) or 'none'})",
                    key=True,
                )
        model: type[BaseModel] = connector.config_model
        secrets = secret_fields(model)
        values: dict[str, Any] = {}
        for key, value in instance.settings.items():
            if key in secrets:
                collector.add(
                    (*path, "settings", key),
                    f"{key!r} is a secret and must not be written in the file; reference it under secrets: as env:NAME or file:/path",
                    key=True,
                )
                continue
            values[key] = value
        for key, reference in instance.secrets.items():
            if key not in secrets:
                hint = did_you_mean(key, secrets)
                collector.add(
                    (*path, "secrets", key),
                    f"{instance.type} has no secret setting {key!r}{hint}",
                    key=True,
                )
                continue
            values[key] = _resolve(
                collector, (*path, "secrets", key), key, reference, environ, check_secrets
            )
        try:
            validated = model.model_validate(values)
        except ValidationError as exc:
            for item in exc.errors(include_url=False, include_input=False):
                loc = tuple(item["loc"])
                if not loc:
                    collector.add((*path, "settings"), f"{instance.type} settings: {item['msg']}")
                    continue
                group = "secrets" if str(loc[0]) in secrets else "settings"
                if item["type"] == "extra_forbidden":
                    hint = did_you_mean(str(loc[0]), _field_names(model))
                    collector.add(
                        (*path, group, *loc),
                        f"{instance.type} has no setting {loc[0]!r}{hint}",
                        key=True,
                    )
                elif item["type"] == "missing":
                    collector.add((*path, group), f"{instance.type} needs {group[:-1]} {loc[0]!r}")
                else:
                    collector.add((*path, group, *loc), f"{'.'.join(map(str, loc))}: {item['msg']}")
        else:
            problems_at = getattr(connector, "location_problems", None)
            if instance.location is not None and problems_at is not None:
                for keys, message in problems_at(validated, instance.location):
                    collector.add((*path, "settings", *keys), message)

    _check_release(collector, tenant_name, tenant)
    known_events = set(EVENT_TYPES)
    for index, route in enumerate(tenant.routes):
        path = (*base, "routes", index)
        from_ledger = route.source == "ledger"
        if route.source not in ("*", "ledger") and route.source not in tenant.connectors:
            hint = did_you_mean(route.source, [*tenant.connectors, "ledger"])
            collector.add(
                (*path, "from"),
                f"route comes from {route.source!r}, which is neither the ledger nor a connector instance of {tenant_name}{hint}",
            )
        for position, event in enumerate(route.events):
            if event != "*" and event not in known_events:
                hint = did_you_mean(event, known_events)
                collector.add(
                    (*path, "events", position), f"unknown canonical event {event!r}{hint}"
                )
        for position, target in enumerate(route.to):
            if from_ledger and target == "ledger":
                collector.add(
                    (*path, "to", position),
                    "a route from the ledger sends its events to connector instances, not back to the ledger",
                )
            elif target != "ledger" and target not in tenant.connectors:
                hint = did_you_mean(target, [*tenant.connectors, "ledger"])
                collector.add(
                    (*path, "to", position),
                    f"route points to {target!r}, which is neither the ledger nor a connector instance{hint}",
                )
            elif from_ledger:
                connector = connectors.get(tenant.connectors[target].type)
                accepts = set(getattr(connector, "accepts", ()) or ())
                refused = [e for e in route.events if e != "*" and e not in accepts]
                if connector is not None and (refused or not accepts):
                    what = ", ".join(refused) if refused else "no outbound event"
                    collector.add(
                        (*path, "to", position),
                        f"{target!r} ({tenant.connectors[target].type}) does not act on {what}; "
                        f"it accepts {', '.join(sorted(accepts)) or 'nothing'}",
                    )
                instance = tenant.connectors[target]
                if "availability.changed" in route.events and instance.channel is None:
                    collector.add(
                        (*path, "to", position),
                        f"{target!r} sells on no channel: give it channel: to receive "
                        "availability.changed",
                    )
                for event in ("fulfillment.requested", "fulfillment.cancelled"):
                    if event in route.events and instance.location is None:
                        collector.add(
                            (*path, "to", position),
                            f"{target!r} serves no location: give it location: to receive {event}",
                        )
                        break


def _check_release(collector: _Collector, tenant_name: str, tenant: Any) -> None:
    """The release policy names locations, channels and service levels that exist.

    An unknown name would otherwise be silently ignored (a node's cut-offs never applied, a
    channel never weighted), so each is reported with a did-you-mean.
    """
    base: PathT = ("tenants", tenant_name, "release")
    release = tenant.release
    levels = list(release.service_levels)
    among_levels = f"release.service_levels ({', '.join(levels) or 'none'})"
    unknown: list[tuple[PathT, str, str, list[str], str]] = []
    for name, rules in release.locations.items():
        unknown.append(
            ((*base, "locations", name), "release rules for location", name,
             list(tenant.locations), f"declared under tenants.{tenant_name}.locations")
        )  # fmt: skip
        unknown.extend(
            ((*base, "locations", name, "cutoffs", level), "cut-off for service level", level,
             [*levels, "*"], f"among {among_levels}")
            for level in rules.cutoffs
        )  # fmt: skip
    unknown.extend(
        ((*base, "channel_weights", channel), "weight for channel", channel,
         list(tenant.channels), f"declared under tenants.{tenant_name}.channels")
        for channel in release.channel_weights
    )  # fmt: skip
    for path, what, name, known, where in unknown:
        if name not in known:
            hint = did_you_mean(name, known)
            collector.add(path, f"{what} {name!r}, which is not {where}{hint}", key=True)
    if release.default_service_level not in levels:
        hint = did_you_mean(release.default_service_level, levels)
        collector.add(
            (*base, "default_service_level"),
            f"default service level {release.default_service_level!r} is not among "
            f"{among_levels}{hint}",
        )


def validate_text(
    text: str,
    *,
    filename: str = "<deployment>",
    check_secrets: bool = True,
    environ: Mapping[str, str] | None = None,
    connectors: Mapping[str, Any] | None = None,
) -> tuple[Deployment | None, list[Problem]]:
    """Validate deployment text; returns the model (when usable) and every problem found."""
    try:
        located = load_located(text)
    except YamlError as exc:
        return None, [
            Problem(filename, exc.position.line, exc.position.column, f"not valid YAML: {exc}")
        ]
    collector = _Collector(filename, located)
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        collector.add((), "the file must be a mapping with keys such as version, tenants, broker")
        return None, collector.problems
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as exc:
        collector.from_validation(exc, Deployment)
        return None, collector.problems
    if connectors is None and any(t.connectors for t in deployment.tenants.values()):
        from connectors.registry import discover

        connectors = discover()
    for tenant_name, tenant in deployment.tenants.items():
        _check_tenant(
            collector,
            tenant_name,
            tenant,
            connectors=connectors or {},
            environ=os.environ if environ is None else environ,
            check_secrets=check_secrets,
        )
    if check_secrets:
        for index, token in enumerate(deployment.admin.tokens):
            try:
                resolve_reference(token.token, os.environ if environ is None else environ)
            except MissingSecretError as exc:
                collector.add(
                    ("admin", "tokens", index, "token"), f"admin token {token.name!r}: {exc}"
                )
    for name, reference in deployment.telemetry.headers.items():
        path = ("telemetry", "headers", name)
        if not reference.startswith(("env:", "file:")):
            collector.add(
                path,
                f"telemetry header {name!r} must be a reference (env:NAME or file:/path), "
                "never the value itself",
            )
        elif check_secrets:
            try:
                resolve_reference(reference, os.environ if environ is None else environ)
            except MissingSecretError as exc:
                collector.add(path, f"telemetry header {name!r}: {exc}")
    for index, token in enumerate(deployment.admin.tokens):
        for position, named in enumerate(token.tenants):
            if named != "*" and named not in deployment.tenants:
                hint = did_you_mean(named, deployment.tenants)
                collector.add(
                    ("admin", "tokens", index, "tenants", position),
                    f"admin token {token.name!r} names unknown tenant {named!r}{hint}",
                )
    collector.problems.sort(key=lambda p: (p.line, p.column))
    return deployment, collector.problems


def load_deployment(path: str | Path, **options: Any) -> Deployment:
    """Read and validate a deployment file; raises :class:`DeploymentInvalidError` on any problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"{file}: cannot read the deployment file ({exc.strerror})"
        ) from None
    deployment, problems = validate_text(text, filename=str(file), **options)
    if problems or deployment is None:
        raise DeploymentInvalidError(problems)
    return deployment
