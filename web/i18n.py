"""The interface in Simplified Chinese or English, chosen by a switch or the browser's language.

Texts are written in English in the code and templates and looked up in :data:`CATALOGUE` for
Chinese.  The language comes from, in order: ``?lang=zh`` / ``?lang=en`` on any page (kept in a
cookie), that cookie, the browser's ``Accept-Language``, English.  Templates call ``_("...")``;
``_("{n} grids", n=98)`` fills in values after translating.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Flask, Response, g, request

#: Languages offered, with their names in themselves.
LANGUAGES = {"zh": "中文", "en": "English"}

#: A value code (lower case words joined by underscores), shown as words in English.
CODE = re.compile(r"^[a-z]+(?:_[a-z]+)*$")

#: Cookie keeping the chosen language for a year.
COOKIE = "gridmap_lang"

#: English text -> Simplified Chinese.
CATALOGUE: dict[str, str] = {
    # navigation and frame
    "Overview": "概览",
    "Incidents": "事件",
    "Workbench": "网格调整",
    "Exports": "导出",
    "Log in": "登录",
    "Log out": "退出",
    "Language": "语言",
    "User": "用户",
    "Password": "密码",
    "Role": "角色",
    "viewer": "查看者",
    "editor": "编辑者",
    "admin": "管理员",
    "Wrong user name or password.": "用户名或密码错误。",
    "Please log in to see this page.": "请登录后查看此页面。",
    "You are logged in as {name} ({role}).": "已登录：{name}（{role}）。",
    "Demo accounts of the sample street": "示例街道的演示账号",
    "No user can log in yet: create one with": "尚无可登录的用户，请用以下命令创建：",
    "This page needs the {role} role.": "此页面需要“{role}”角色。",
    # overview
    "Grids of the published plan": "已发布方案的网格",
    "version {version}, {n} grids": "第 {version} 版，共 {n} 个网格",
    "Colour by": "着色依据",
    "Grids: click a column heading to sort": "网格：点击列标题排序",
    "All grids": "全部网格",
    "Grid": "网格",
    "Grids": "网格",
    "Community": "社区",
    "Communities": "社区",
    "Street": "街道",
    "Member": "网格员",
    "Households": "户数",
    "Persons": "人口",
    "Buildings": "楼栋",
    "Area (ha)": "面积（公顷）",
    "Open incidents": "未办结事件",
    "Deviation from target (%)": "偏离目标（%）",
    "Incidents per 1,000 households": "每千户事件数",
    "Median hours to close": "办结时长中位数（小时）",
    "Households per grid": "每格户数",
    "no data": "无数据",
    "up to {v}": "≤ {v}",
    "Show": "显示",
    # grid page
    "Grid {code}": "网格 {code}",
    "Back to the overview": "返回概览",
    "Incidents by month": "每月事件数",
    "Recent incidents": "最近事件",
    "No member assigned": "未指派网格员",
    "Reported": "上报时间",
    "Category": "类别",
    "Status": "状态",
    "Priority": "优先级",
    "Level": "处理层级",
    "Description": "描述",
    "Hours to close": "办结时长（小时）",
    "Closed within SLA": "按时办结率",
    "Polsby-Popper": "紧凑度（Polsby-Popper）",
    # incidents page
    "Incident map": "事件地图",
    "Heatmap": "热力图",
    "Per grid": "按网格",
    "Hotspots (Gi*)": "热点分析（Gi*）",
    "From": "起",
    "To": "止",
    "All": "全部",
    "Week": "周",
    "All weeks": "全部周",
    "Apply": "应用",
    "incidents shown": "条事件",
    "Hot spot, 99 % confidence": "热点（99% 置信）",
    "Hot spot, 95 % confidence": "热点（95% 置信）",
    "Hot spot, 90 % confidence": "热点（90% 置信）",
    "Cold spot, 99 % confidence": "冷点（99% 置信）",
    "Cold spot, 95 % confidence": "冷点（95% 置信）",
    "Cold spot, 90 % confidence": "冷点（90% 置信）",
    "Not significant": "不显著",
    "grid": "网格",
    "community": "社区",
    "street": "街道",
    "reported": "已上报",
    "accepted": "已受理",
    "in_progress": "处理中",
    "resolved": "已解决",
    "closed": "已办结",
    "rejected": "已驳回",
    "duplicate": "重复",
    # workbench
    "Redraw workbench": "网格调整工作台",
    "Target households": "目标户数",
    "Minimum": "下限",
    "Maximum": "上限",
    "Number of grids": "网格总数",
    "Grids per community": "各社区网格数",
    "Run": "运行",
    "Proposed plan": "拟议方案",
    "Published plan": "已发布方案",
    "Undo": "撤销",
    "Redo": "重做",
    "Save as draft": "保存为草稿",
    "Publish": "发布",
    "Households that change grid": "变更网格的户数",
    "Metrics": "指标",
    "In range": "在范围内",
    # exports
    "Download": "下载",
    "Grids of the published plan, with their counts": "已发布方案的网格及统计",
    "Aggregates per grid": "按网格汇总",
    "Household-level data": "户级数据",
    "Only editors may export household-level data.": "只有编辑者可以导出户级数据。",
    # incidents page (web/incidents.py, templates/incidents.html, static/incidents.js)
    "Hexagon size": "六边形大小",
    "Measure": "指标",
    "{n} incidents": "{n} 条事件",
    "{n} outside the street": "{n} 条在街道范围外",
    "{n} outside every grid": "{n} 条不在任何网格内",
    "Incidents per hexagon ({size} m)": "每个六边形的事件数（{size} 米）",
    "Incidents per grid": "每格事件数",
    "Hot spots (Getis-Ord Gi*)": "热点分析（Getis-Ord Gi*）",
    "Clusters of grids with many (hot) or few (cold) incidents.": "事件多或少的网格聚集",
    "z-score": "z 值",
    "p-value": "p 值",
    "pseudo p-value": "伪 p 值",
    "Loading…": "加载中…",
    "The map could not be updated": "地图未能更新",
    "Play": "播放",
    "Pause": "暂停",
    "version {version}": "第 {version} 版",
    "sanitation": "环境卫生",
    "illegal_construction": "违法建设",
    "neighbour_dispute": "邻里纠纷",
    "safety_hazard": "安全隐患",
    "municipal_facilities": "市政设施",
    "street_vending": "占道经营",
    "noise": "噪声扰民",
    # workbench page (web/workbench.py, workbench.html, workbench.js)
    "Mode": "方式",
    "Redraw from the published plan (fewest households moved)": (
        "在已发布方案基础上调整（调整户数最少）"
    ),
    "Partition afresh": "重新划分",
    "Grid size": "网格规模",
    "Target and range": "目标与范围",
    "Weight": "均衡依据",
    "Locked grids (codes, comma-separated)": "锁定的网格（编码，逗号分隔）",
    "Working…": "正在计算…",
    "Another plan was published since this run: run again to compare with it.": (
        "运行后已有其他方案发布：请重新运行以与之比较。"
    ),
    "Drafts": "草稿",
    "Edit by hand": "手工调整",
    "Click a unit to select it (shift-click to add units), then choose a neighbouring grid.": (
        "点击单元选中（按住 Shift 可多选），再选择相邻网格。"
    ),
    "Save and publish": "保存与发布",
    "Note": "备注",
    "Metric": "指标",
    "Balance per grid": "各网格均衡情况",
    "Map": "地图",
    "Grids in range": "在范围内的网格比例",
    "Largest deviation from target": "最大偏离目标",
    "Mean compactness (Polsby-Popper)": "平均紧凑度（Polsby-Popper）",
    "Grids in one piece": "连片网格比例",
    "Buildings split": "被分割的楼栋",
    "Households moved vs published": "相对已发布方案调整的户数",
    "Units": "单元",
    "Move to grid {code}": "移入网格 {code}",
    "Split grid {code} in two": "将网格 {code} 一分为二",
    "Merge grid {other} into {code}": "将网格 {other} 并入 {code}",
    "Lock grid {code}": "锁定网格 {code}",
    "Unlock grid {code}": "解锁网格 {code}",
    "Selected: {n} unit(s) in grid {code}": "已选：网格 {code} 中的 {n} 个单元",
    "No neighbouring grid in this community.": "本社区内没有相邻网格。",
    "No unit selected.": "未选中单元。",
    "Refused": "未执行",
    "Done": "完成",
    "{b} buildings, {h} households, {p} persons and {i} incidents change grid.": (
        "{b} 栋楼、{h} 户、{p} 人、{i} 件事件变更网格。"
    ),
    "Nothing changes grid.": "没有变更网格的对象。",
    "Saved as plan {id}, version {version} ({status}).": (
        "已保存为方案 {id}，第 {version} 版（{status}）。"
    ),
    "Published: plan {id}, version {version}; {n} open incidents moved grid.": (
        "已发布：方案 {id}，第 {version} 版；{n} 件未办结事件变更网格。"
    ),
    "Publish this plan? It replaces the published plan for everybody.": (
        "发布此方案？它将替换所有人看到的已发布方案。"
    ),
    "Draft {id}: {mode}, {n} grids, run in {s} s, compared with version {v}.": (
        "草稿 {id}：{mode}，{n} 个网格，用时 {s} 秒，与第 {v} 版比较。"
    ),
    "redraw": "在原方案上调整",
    "partition afresh": "重新划分",
    "Deviation from target": "偏离目标",
    "Allowed range": "允许范围",
    "out of range": "超出范围",
    "Failed": "失败",
    "(no grid)": "（无网格）",
    "locked": "已锁定",
    # import page
    "Import": "导入",
    "Import incidents, households or buildings": "导入事件、住户或楼栋",
    "A file with bad rows imports nothing unless you tick “skip bad rows”; importing the same file twice adds nothing. Up to {mb} MB; {accepted}.": "含错误行的文件不会导入任何数据，除非勾选“跳过错误行”；同一文件重复导入不会新增数据。最大 {mb} MB；{accepted}。",  # noqa: E501
    "File": "文件",
    "Import as": "导入为",
    "Columns": "列名",
    "Coordinates": "坐标系",
    "gridmap's own column names": "gridmap 标准列名",
    "Skip bad rows (import the good ones)": "跳过错误行（导入其余行）",
    "Nothing was imported. Fix the rows below, or tick “skip bad rows” to import the others.": "未导入任何数据。请修正以下各行，或勾选“跳过错误行”以导入其余行。",  # noqa: E501
    "Imported {file}": "已导入 {file}",
    "This file was imported before: nothing was changed.": "此文件已导入过，未作任何更改。",
    "Rows read": "读取行数",
    "Imported": "已导入",
    "Already present": "已存在",
    "Skipped": "已跳过",
    "Skipped rows": "跳过的行",
    "Notes": "说明",
    "Grid: {flag}": "网格：{flag}",
    "row {n}": "第 {n} 行",
    "Choose a file to import.": "请选择要导入的文件。",
    "{name}: files of this type cannot be imported; use {accepted}.": "{name}：不支持此类文件，请使用 {accepted}。",  # noqa: E501
    "Unknown layer {kind}.": "未知图层 {kind}。",
    "Unknown coordinates or column mapping.": "未知的坐标系或列映射。",
    "{name} is empty.": "{name} 是空文件。",
    "households": "住户",
    "buildings": "楼栋",
    "incidents": "事件",
    # exports page and API docs page (web/exports.py, web/openapi.py)
    "published plan, version {version}": "已发布方案，第 {version} 版",
    "GeoJSON follows RFC 7946 (longitude/latitude, WGS84); GeoPackage opens in QGIS; CSV opens in a spreadsheet.": "GeoJSON 符合 RFC 7946（经度/纬度，WGS84）；GeoPackage 可用 QGIS 打开；CSV 可用电子表格打开。",  # noqa: E501
    "Incidents to export": "要导出的事件",
    "all": "全部",
    "Reported from": "上报日期自",
    "until (not included)": "至（不含）",
    "Data": "数据",
    "Rows": "行数",
    "Per-grid aggregates (households, persons, incidents by status and category)": "各网格汇总（户数、人数、按状态和类别统计的事件）",  # noqa: E501
    "Incidents with their grid (the filters above apply)": "事件及其所属网格（按上方条件筛选）",
    "Households with their grid (personal data: editors only)": "住户及其所属网格（个人数据：仅限编辑者）",  # noqa: E501
    "API": "接口",
    "Every endpoint of the JSON API and of Open311 intake. The machine-readable document is at": "JSON 接口和 Open311 事件上报的全部端点。机器可读的文档位于",  # noqa: E501
    "Method": "方法",
    "Path": "路径",
    "What it does": "用途",
    "Parameters": "参数",
    "Answers": "响应",
    "body": "请求体",
    # incident page
    "Incident {id}": "事件 {id}",
    "Expected by": "应办结时间",
    "Closed": "办结时间",
    "Source": "来源",
    "Address": "地址",
    "Mark as {status}": "标记为“{status}”",
    "This incident is finished: no further step.": "此事件已结束，无后续步骤。",
    "Escalate to the next level": "上报上一级处理",
    "History": "处理记录",
    "When": "时间",
    "Who": "操作人",
    "escalated": "已上报",
    "Incident {id} is now {status}.": "事件 {id} 现为“{status}”。",
    "Incident {id} is handled by the {level} now.": "事件 {id} 现由{level}处理。",
    "Refused: {reason}": "未执行：{reason}",
    "low": "低",
    "normal": "一般",
    "high": "高",
    "urgent": "紧急",
    "member_app": "网格员APP",
    "hotline": "热线",
    "web": "网站",
    "walk_in": "来访",
    "sensor": "感知设备",
    "other": "其他",
}


def choose_language() -> str:
    """The language of the current request (see the module docstring)."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(COOKIE)
    if kept in LANGUAGES:
        return kept
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-Hans", "en"], default="en")
    return "zh" if best.lower().startswith("zh") else "en"


def current_language() -> str:
    """The language chosen for this request (English outside a request)."""
    return getattr(g, "language", "en")


def translate(text: str, **values: object) -> str:
    """``text`` in the current language, with ``{name}`` fields filled from ``values``.

    Codes of the catalogue (``street_vending``, ``in_progress``) read as words in English too:
    ``Street vending``, ``In progress``.
    """
    if current_language() == "zh":
        text = CATALOGUE.get(text, text)
    elif text in CATALOGUE and CODE.match(text):
        text = text.replace("_", " ").capitalize()
    return text.format(**values) if values else text


def init_app(app: Flask) -> None:
    """Choose the language for each request, offer ``_`` to templates, keep a switch's choice."""

    @app.before_request
    def pick() -> None:
        g.language = choose_language()

    @app.after_request
    def keep(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES:
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @app.context_processor
    def inject() -> dict[str, object]:
        return {
            "_": translate,
            "language": current_language(),
            "languages": LANGUAGES,
            "language_url": language_url,
        }


def language_url(code: str) -> str:
    """The current page's path and query with ``lang`` set to ``code`` (the switch's link)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return f"{request.path}?{urlencode(args, doseq=True)}"
