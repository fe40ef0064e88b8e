"""Action parameters: flattened forms rebuilt, every documented validation error."""

from __future__ import annotations

import json

import pytest

from part3d.service.tencent.errors import (
    InvalidParameter,
    InvalidParameterValue,
    MissingParameter,
    UnknownParameter,
)
from part3d.service.tencent.params import unflatten, validate_query, validate_submit

URL = "https://example.com/in/chair.fbx"


def test_flattened_get_parameters_are_rebuilt_and_common_ones_dropped() -> None:
    flat = {
        "File.Url": URL,
        "File.Type": "FBX",
        "EnableStagedGeneration": "True",
        "Action": "SubmitHunyuan3DPartJob",
        "Nonce": "1",
        "Items.0.Name": "a",
        "Items.1.Name": "b",
    }
    params = unflatten(flat)
    assert params == {
        "File": {"Url": URL, "Type": "FBX"},
        "EnableStagedGeneration": "True",
        "Items": [{"Name": "a"}, {"Name": "b"}],
    }
    params.pop("Items")
    req = validate_submit(params, flattened=True)
    assert (req.url, req.file_type, req.staged, req.post_process) == (URL, "FBX", True, False)


def test_json_submit_with_every_field() -> None:
    info = json.dumps({"chair_part_1": {"face_ids": [0, 1, 2], "color": "#598DC6"}})
    req = validate_submit(
        {
            "File": {"Url": URL, "Type": "fbx"},
            "PartSegmentationInfo": info,
            "EnablePostProcess": True,
            "Model": "1.5",
        }
    )
    assert req.file_type == "FBX" and req.part_segmentation_info == info and req.post_process


@pytest.mark.parametrize(
    ("params", "error", "text"),
    [
        ({}, MissingParameter, "File"),
        ({"File": {"Type": "FBX"}}, MissingParameter, "File.Url"),
        ({"File": {"Url": URL}}, MissingParameter, "File.Type"),
        ({"File": "x"}, InvalidParameter, "File must be an object"),
        ({"File": {"Url": 5, "Type": "FBX"}}, InvalidParameter, "File.Url must be a string"),
        ({"File": {"Url": "ftp://x/y.fbx", "Type": "FBX"}}, InvalidParameterValue, "http"),
        ({"File": {"Url": "/local/y.fbx", "Type": "FBX"}}, InvalidParameterValue, "absolute"),
        ({"File": {"Url": URL, "Type": "MAX"}}, InvalidParameterValue, "not supported"),
        ({"File": {"Url": URL, "Type": "FBX", "Size": 1}}, UnknownParameter, "File.Size"),
        ({"File": {"Url": URL, "Type": "FBX"}, "Prompt": "x"}, UnknownParameter, "Prompt"),
        (
            {"File": {"Url": URL, "Type": "FBX"}, "EnablePostProcess": "yes"},
            InvalidParameter,
            "boolean",
        ),
        ({"File": {"Url": URL, "Type": "FBX"}, "Model": "3.0"}, InvalidParameterValue, "1.5"),
        (
            {"File": {"Url": URL, "Type": "FBX"}, "PartSegmentationInfo": "{"},
            InvalidParameterValue,
            "not valid JSON",
        ),
        (
            {"File": {"Url": URL, "Type": "FBX"}, "PartSegmentationInfo": '{"a": {"face_ids": 1}}'},
            InvalidParameterValue,
            "face_ids must be a list",
        ),
        (
            {
                "File": {"Url": URL, "Type": "FBX"},
                "PartSegmentationInfo": '{"a": {"face_ids": [1, -2]}}',
            },
            InvalidParameterValue,
            "-2",
        ),
        (
            {
                "File": {"Url": URL, "Type": "FBX"},
                "PartSegmentationInfo": '{"a": {"face_ids": [1], "color": "red"}}',
            },
            InvalidParameterValue,
            "#RRGGBB",
        ),
        (
            {"File": {"Url": URL, "Type": "FBX"}, "PartSegmentationInfo": {"a": 1}},
            InvalidParameter,
            "JSON string",
        ),
    ],
)
def test_submit_validation_errors(params, error, text) -> None:
    with pytest.raises(error, match=text):
        validate_submit(params)


def test_booleans_as_text_only_in_flattened_form() -> None:
    params = {"File": {"Url": URL, "Type": "FBX"}, "EnableStagedGeneration": "TRUE"}
    assert validate_submit(params, flattened=True).staged
    with pytest.raises(InvalidParameter):
        validate_submit(params)


def test_query_validation() -> None:
    assert validate_query({"JobId": "1376862528873414656"}).job_id == "1376862528873414656"
    with pytest.raises(MissingParameter, match="JobId"):
        validate_query({})
    with pytest.raises(InvalidParameter, match="string"):
        validate_query({"JobId": 1376862528873414656})
    with pytest.raises(UnknownParameter, match="Other"):
        validate_query({"JobId": "1", "Other": "x"})


def test_error_codes_are_the_documented_ones() -> None:
    assert MissingParameter.code == "MissingParameter"
    assert InvalidParameterValue.code == "InvalidParameterValue"
    assert UnknownParameter.code == "UnknownParameter"


def test_a_file_url_over_8_kib_is_refused() -> None:
    url = "http://example.com/" + "a" * 8200 + ".fbx"
    with pytest.raises(InvalidParameterValue, match="longer than 8192"):
        validate_submit({"File": {"Url": url, "Type": "FBX"}})
    assert validate_submit({"File": {"Url": url[:8000] + ".fbx", "Type": "FBX"}}).url


@pytest.mark.parametrize("url", ["http://x%a.fb[x", "http://[::1/a.fbx", "http://x:99999/a.fbx"])
def test_a_file_url_that_is_not_a_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidParameterValue, match="File.Url"):
        validate_submit({"File": {"Url": url, "Type": "FBX"}})
