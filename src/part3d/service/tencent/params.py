"""Action parameters of SubmitHunyuan3DPartJob and QueryHunyuan3DPartJob: flattened forms
rebuilt (API.md §3.4) and validated (§6.1, §6.2) into small request objects."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from part3d.service.tencent.errors import (
    InvalidParameter,
    InvalidParameterValue,
    MissingParameter,
    UnknownParameter,
)

#: Common parameters of the legacy style (§3.3): never action parameters.
COMMON = frozenset(
    {"Action", "Version", "Region", "Timestamp", "Nonce", "SecretId", "SignatureMethod",
     "Token", "Language", "RequestClient", "Signature"}
)  # fmt: skip
FILE_TYPES = ("FBX", "OBJ", "GLB", "GLTF", "STL", "PLY", "OFF")
SUBMIT_FIELDS = {"File", "PartSegmentationInfo", "EnableStagedGeneration", "EnablePostProcess",
                 "Model"}  # fmt: skip


#: The longest list a flattened parameter may index: no Part API field is a list longer than
#: this (the flattened form of PartSegmentationInfo is a JSON string, not a list).
MAX_LIST = 1000
#: The longest File.Url accepted (Tencent's own limit is not documented).
MAX_URL = 8192
#: Flattened names nest at most this deep.
MAX_NAME_DEPTH = 8


def unflatten(flat: dict[str, str]) -> dict:
    """``{"File.Url": u, "File.Type": t}`` -> ``{"File": {"Url": u, "Type": t}}``; numeric
    components become list indices. Common parameters are left out."""
    out: dict = {}
    for key, value in flat.items():
        if key in COMMON:
            continue
        parts = key.split(".")
        if len(parts) > MAX_NAME_DEPTH:
            raise InvalidParameter(f"parameter {key[:80]} nests deeper than {MAX_NAME_DEPTH}")
        node = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit():
                    raise InvalidParameter(f"parameter {key} mixes list indices and names")
                index = int(part)
                if index >= MAX_LIST or len(part) > 6:
                    raise InvalidParameter(
                        f"parameter {key}: list index {part} is over the limit of {MAX_LIST - 1}"
                    )
                while len(node) <= index:
                    node.append(None)
                if last:
                    if isinstance(node[index], dict | list):
                        raise InvalidParameter(
                            f"parameter {key} is given both as a value and nested"
                        )
                    node[index] = value
                else:
                    if node[index] is None:
                        node[index] = [] if parts[i + 1].isdigit() else {}
                    elif not isinstance(node[index], dict | list):
                        raise InvalidParameter(
                            f"parameter {key} is given both as a value and nested"
                        )
                    node = node[index]
                continue
            if last:
                if part in node and isinstance(node[part], dict | list):
                    raise InvalidParameter(f"parameter {key} is given both as a value and nested")
                node[part] = value
            else:
                child = node.get(part)
                if child is None:
                    child = node[part] = [] if parts[i + 1].isdigit() else {}
                elif not isinstance(child, dict | list):
                    raise InvalidParameter(f"parameter {key} is given both as a value and nested")
                node = child
    return out


def _bool(params: dict, name: str, flattened: bool) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if flattened and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidParameter(f"{name} must be a boolean")


@dataclass(frozen=True)
class SubmitRequest:
    url: str
    file_type: str
    part_segmentation_info: str | None
    staged: bool
    post_process: bool
    model: str


@dataclass(frozen=True)
class QueryRequest:
    job_id: str


def _reject_unknown(given: dict, allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise UnknownParameter(f"The parameter {prefix}{unknown[0]} is not recognized")


def validate_submit(params: dict, *, flattened: bool = False) -> SubmitRequest:
    """Check SubmitHunyuan3DPartJob's parameters (``flattened``: they came from a query string
    or form, where every value is a string)."""
    _reject_unknown(params, SUBMIT_FIELDS)
    file = params.get("File")
    if file is None:
        raise MissingParameter("The request is missing a required parameter File")
    if not isinstance(file, dict):
        raise InvalidParameter("File must be an object with Url and Type")
    _reject_unknown(file, {"Url", "Type"}, "File.")
    for field in ("Url", "Type"):
        if file.get(field) is None:
            raise MissingParameter(f"The request is missing a required parameter File.{field}")
        if not isinstance(file[field], str):
            raise InvalidParameter(f"File.{field} must be a string")
    url = file["Url"].strip()
    if len(url) > MAX_URL:
        raise InvalidParameterValue(f"File.Url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise InvalidParameterValue(f"File.Url is not a valid URL: {url[:200]!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterValue(f"File.Url must be an absolute http or https URL, not {url!r}")
    file_type = file["Type"].strip().upper()
    if file_type not in FILE_TYPES:
        raise InvalidParameterValue(
            f"File.Type {file['Type']!r} is not supported (accepted: {', '.join(FILE_TYPES)})"
        )
    info = params.get("PartSegmentationInfo")
    if info is not None:
        if not isinstance(info, str):
            raise InvalidParameter("PartSegmentationInfo must be a JSON string")
        check_part_segmentation_info(info)
    model = params.get("Model", "1.5")
    if not isinstance(model, str):
        raise InvalidParameter("Model must be a string")
    if model != "1.5":
        raise InvalidParameterValue(f"Model {model!r} is not available (only 1.5)")
    return SubmitRequest(
        url=url,
        file_type=file_type,
        part_segmentation_info=info,
        staged=_bool(params, "EnableStagedGeneration", flattened),
        post_process=_bool(params, "EnablePostProcess", flattened),
        model=model,
    )


def check_part_segmentation_info(text: str) -> dict:
    """PartSegmentationInfo (API.md §6.3) checked at submit with the core's one validator
    (everything that needs no model); its message becomes InvalidParameterValue."""
    from part3d.errors import Part3DError
    from part3d.pipeline import check_segmentation

    try:
        return check_segmentation(text)
    except Part3DError as exc:
        raise InvalidParameterValue(str(exc)) from None


def validate_query(params: dict) -> QueryRequest:
    _reject_unknown(params, {"JobId"})
    job_id = params.get("JobId")
    if job_id is None:
        raise MissingParameter("The request is missing a required parameter JobId")
    if not isinstance(job_id, str):
        raise InvalidParameter("JobId must be a string")
    return QueryRequest(job_id)
