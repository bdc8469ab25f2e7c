"""UI text of sign-in, roles, access refusals and the extract list (简体中文 / English), merged into ``i18n.TEXT``
at import so the pages use ``t()`` as for every other string."""

from __future__ import annotations

from .i18n import TEXT

ACCESS_TEXT: dict[str, tuple[str, str]] = {
    "signed_in_as": ("当前用户", "Signed in as"),
    "logout": ("退出登录", "Sign out"),
    "change_password": ("修改密码", "Change password"),
    "role_national": ("国家知识产权局", "National office"),
    "role_province": ("省级知识产权局", "Provincial office"),
    "role_viewer": ("浏览者", "Viewer"),
    "role_evaluator": ("第三方评估机构", "Third-party evaluator"),
    "forbidden": ("无权访问该内容。", "You do not have access to this content."),
    "ex_title": ("省级数据包（按发布版本）", "Provincial extracts (by release)"),
    "ex_none": ("暂无可下载的数据包。", "No extracts available yet."),
    "ex_province": ("省份", "Province"),
    "ex_year": ("评估年度", "Evaluation year"),
    "ex_version": ("版本", "Version"),
    "ex_release": ("发布编号", "Release"),
    "ex_generated": ("生成时间", "Generated"),
    "ex_changes": ("较上一版本变更", "Changes since previous"),
    "ex_files": ("文件", "Files"),
    "ex_first": ("首个版本", "first version"),
}
for _k, _v in ACCESS_TEXT.items():
    TEXT.setdefault(_k, _v)
