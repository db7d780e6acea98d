"""Stream records read from DynamoDB Local: an empty map it writes as `{}` is restored to `{"M": {}}`."""

from __future__ import annotations

from typing import Any

from chalicelib.table.db import restore_empty_maps


def test_empty_maps_in_keys_and_images_are_restored_at_any_depth_and_the_rest_is_left_alone() -> None:
    parsed: dict[str, Any] = {
        "Records": [
            {
                "eventName": "MODIFY",
                "dynamodb": {
                    "Keys": {"PK": {"S": "C#1"}, "SK": {"S": "META"}},
                    "NewImage": {
                        "helped": {},
                        "spec": {"M": {"fraud": {}, "tags": {"L": [{}, {"S": ""}]}, "n": {"N": "1"}}},
                        "flag": {"BOOL": False},
                        "none": {"NULL": True},
                        "codes": {"SS": ["a"]},
                    },
                    "OldImage": {"helped": {"M": {"h": {"N": "0"}}}},
                },
            },
            {"eventName": "REMOVE", "dynamodb": {"Keys": {"PK": {"S": "x"}, "SK": {"S": "y"}}}},
        ]
    }

    restore_empty_maps(parsed)

    first, second = parsed["Records"]
    assert first["dynamodb"]["NewImage"] == {
        "helped": {"M": {}},
        "spec": {"M": {"fraud": {"M": {}}, "tags": {"L": [{"M": {}}, {"S": ""}]}, "n": {"N": "1"}}},
        "flag": {"BOOL": False},
        "none": {"NULL": True},
        "codes": {"SS": ["a"]},
    }
    assert first["dynamodb"]["OldImage"] == {"helped": {"M": {"h": {"N": "0"}}}}
    assert first["dynamodb"]["Keys"] == {"PK": {"S": "C#1"}, "SK": {"S": "META"}}
    assert second == {"eventName": "REMOVE", "dynamodb": {"Keys": {"PK": {"S": "x"}, "SK": {"S": "y"}}}}
