"""A user group as the API shows it: GET /user_groups, the realm_user_groups state, and user_group events alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zulipd.actions.groups import SettingValue, UserGroupDetails


def setting_value_payload(value: SettingValue) -> int | dict[str, list[int]]:
    """A group-setting value: a group's id, or ``{"direct_members": [...], "direct_subgroups": [...]}``."""
    return value if isinstance(value, int) else value.as_json()


def user_group_payload(details: UserGroupDetails) -> dict[str, Any]:
    """The group's UserGroup object; its permission settings in the order ``details.settings`` has them."""
    group = details.group
    payload: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "members": details.members,
        "direct_subgroup_ids": details.direct_subgroup_ids,
        "creator_id": group.creator_id,
        "date_created": int(group.date_created.timestamp()) if group.date_created is not None else None,
        "is_system_group": group.is_system_group,
    }
    for name, value in details.settings.items():
        payload[name] = setting_value_payload(value)
    payload["deactivated"] = group.deactivated
    return payload
