"""The interface in Simplified Chinese or English, chosen by a switch or the browser's language.

Texts are written in English in the code and templates and looked up in :data:`CATALOGUE` for
Chinese.  The language comes from, in order: ``?lang=zh`` / ``?lang=en`` on any page (kept in a
cookie), that cookie, the browser's ``Accept-Language``, English.  Templates call ``_("...")``;
``_("{n} grids", n=98)`` fills in values after translating.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Flask, Response, g, has_app_context, request

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
    # engine messages on web pages (web/messages.py, web/imports.py, templates/imports.html)
    "{items} and {n} more": "{items} 及另外 {n} 项",
    "{items} and {n} more rows": "{items} 行及另外 {n}",
    "{items} and {n} more units": "{items} 及另外 {n} 个",
    "{where}: {what}": "{where}：{what}",
    "Nothing was imported.": "未导入任何数据。",
    "Row {rows}": "第 {rows} 行",
    "Rows {rows}": "第 {rows} 行",
    "unit {units}": "单元 {units}",
    "units {units}": "单元 {units}",
    "{m} m": "{m} 米",
    "up to {m} m": "最远 {m} 米",
    "(empty)": "（空）",
    "persons": "人口",
    "point": "点",
    "polygon": "面",
    "linestring": "线",
    "inside": "在网格内",
    "snapped": "就近归入网格",
    "unassigned": "未归入网格",
    "invalid": "位置无效",
    "no plan published": "尚未发布方案",
    "{n} more skipped rows are not listed.": "另有 {n} 个跳过的行未列出。",
    "The file is larger than this server accepts ({mb} MB).": "文件超过服务器允许的大小（{mb} MB）。",  # noqa: E501
    "Split the file into smaller ones, or ask the administrator to raise the upload limit (MAX_CONTENT_LENGTH).": "请将文件拆分为较小的文件，或请管理员提高上传限制（MAX_CONTENT_LENGTH）。",  # noqa: E501
    "{bad} of {rows} rows cannot be imported.": "{rows} 行中有 {bad} 行无法导入。",
    "Nothing was imported: correct these rows, or tick “Skip bad rows” to import the others.": "未导入任何数据：请修正这些行，或勾选“跳过错误行”以导入其余行。",  # noqa: E501
    "The required column “{column}” is missing.": "缺少必需的列“{column}”。",
    "Add a “{column}” column, or rename the column that holds it (the file has: {columns}).": "请添加“{column}”列，或将含有该数据的列改名为“{column}”（文件中的列：{columns}）。",  # noqa: E501
    "The column “{column}” holds personal data, which the {layer} layer must not keep.": "列“{column}”含有个人信息，{layer}图层不得保存。",  # noqa: E501
    "Delete the column “{column}” from the file and upload it again.": "请从文件中删除“{column}”列后重新上传。",  # noqa: E501
    "The file has no coordinate columns (it has: {columns}).": "文件中没有坐标列（现有列：{columns}）。",  # noqa: E501
    "Name the longitude and latitude columns “lon” and “lat”, or upload a GeoJSON or GeoPackage file.": "请将经度、纬度列命名为“lon”和“lat”，或上传 GeoJSON 或 GeoPackage 文件。",  # noqa: E501
    "The columns {columns} hold values outside longitude/latitude ranges (e.g. {example}).": "列 {columns} 的数值超出经纬度范围（例如 {example}）。",  # noqa: E501
    "If longitude and latitude are swapped, swap the two columns; if these are projected coordinates, convert them to longitude/latitude (e.g. in QGIS) and upload again.": "如果经度和纬度写反了，请交换这两列；如果是投影坐标，请先转换为经纬度（例如用 QGIS）再上传。",  # noqa: E501
    "The file cannot be read as {format}: its content is garbled, truncated or in another format.": "无法按 {format} 读取该文件：内容已损坏、不完整或为其他格式。",  # noqa: E501
    "Check that the file opens in QGIS, and export it again as GeoJSON, GeoPackage or CSV.": "请确认文件能在 QGIS 中打开，并重新导出为 GeoJSON、GeoPackage 或 CSV。",  # noqa: E501
    "The file cannot be read as CSV.": "无法按 CSV 读取该文件。",
    "Check that every line has as many fields as the header (put text holding commas in quotes), or save it again from the spreadsheet as CSV.": "请检查每行的字段数是否与表头一致（含逗号的文本需加引号），或从电子表格重新另存为 CSV。",  # noqa: E501
    "The column “{column}” is empty.": "列“{column}”为空。",
    "Fill in “{column}” in these rows, or delete them.": "请在这些行中填写“{column}”，或删除这些行。",  # noqa: E501
    "The column “{column}” must hold numbers; found {examples}.": "列“{column}”应为数字，但发现 {examples}。",  # noqa: E501
    "Correct “{column}” in these rows.": "请修正这些行的“{column}”。",
    "The column “{column}” must hold whole numbers.": "列“{column}”应为整数。",
    "Round “{column}” in these rows.": "请将这些行的“{column}”取整。",
    "The column “{column}” must be at least {minimum:g}.": "列“{column}”应不小于 {minimum:g}。",
    "The column “{column}” must hold dates and times; could not read {examples}.": "列“{column}”应为日期时间，无法识别 {examples}。",  # noqa: E501
    "Write dates and times like 2026-03-01 14:30.": "日期时间请写成 2026-03-01 14:30 的格式。",
    "The id {examples} appears more than once in “{column}”.": "编号 {examples} 在“{column}”列中出现多次。",  # noqa: E501
    "Give every row its own id, or delete the repeated rows.": "请为每行设置唯一编号，或删除重复的行。",  # noqa: E501
    "The column “{column}” holds values that are not allowed: {examples}.": "列“{column}”含有不允许的值：{examples}。",  # noqa: E501
    "Use one of: {allowed}.": "请使用以下值之一：{allowed}。",
    "No location (no geometry).": "没有位置（无几何图形）。",
    "Draw or geocode these features, or delete them.": "请绘制这些要素或为其地理编码，或删除它们。",  # noqa: E501
    "No coordinates (blank {columns}).": "没有坐标（{columns} 为空）。",
    "Fill in the longitude and latitude, or delete these rows.": "请填写经度和纬度，或删除这些行。",  # noqa: E501
    "The coordinates in {columns} are not numbers.": "{columns} 中的坐标不是数字。",
    "Write longitude and latitude as decimal degrees, e.g. 104.1096 and 30.6537.": "经度和纬度请用十进制度表示，例如 104.1096 和 30.6537。",  # noqa: E501
    "The coordinates in {columns} are outside longitude/latitude ranges.": "{columns} 中的坐标超出经纬度范围。",  # noqa: E501
    "Check the coordinates: longitude -180 to 180, latitude -90 to 90, in decimal degrees (are the two columns swapped?).": "请检查坐标：经度在 -180 到 180 之间，纬度在 -90 到 90 之间，单位为十进制度（两列是否写反了？）。",  # noqa: E501
    "The feature has several parts; each must be one {kind}.": "该要素由多个部分组成，每个要素只能是一个{kind}。",  # noqa: E501
    "Split it into one feature per {kind}, each with its own id.": "请拆分为每个{kind}一个要素，并各自设置编号。",  # noqa: E501
    "Outside the street: {distance} from the nearest grid, farther than the {tolerance:g} m allowed.": "在街道范围外：距最近的网格 {distance}，超出允许的 {tolerance:g} 米。",  # noqa: E501
    "Check the coordinates (and the coordinate system chosen above), or report these incidents to the street that holds the place.": "请检查坐标（以及上方选择的坐标系），或将这些事件转交所在地的街道。",  # noqa: E501
    "{count} imported features lie outside or across the street boundary: no grid counts them.": "有 {count} 个导入的要素位于街道边界之外或跨越边界，不会计入任何网格。",  # noqa: E501
    "Check their coordinates (and the coordinate system chosen above) or the street boundary.": "请检查其坐标（以及上方选择的坐标系）或街道边界。",  # noqa: E501
    "building_id names buildings that are not in the workspace: these households count in grids by their location only.": "building_id 指向的楼栋不在工作空间中：这些住户只按其位置计入网格。",  # noqa: E501
    "Import the buildings too, or correct building_id.": "请同时导入这些楼栋，或修正 building_id。",
    "The file has no column {columns}; every row got {filled}.": "文件没有 {columns} 列；所有行均取：{filled}。",  # noqa: E501
    "Add the columns to the file to set them row by row.": "如需逐行设置，请在文件中添加这些列。",
    # edit refusals and plan runs of the workbench (web/messages.py)
    "{units} already belong to grid {grid}: nothing to move.": "{units} 已属于网格 {grid}，无需移动。",  # noqa: E501
    "Select units of the grids around grid {grid} to move them into it.": "请选择网格 {grid} 周边网格中的单元，将其移入。",  # noqa: E501
    "{units} lie in community {community} but grid {grid} is in community {grid_community}: a grid never crosses a community line.": "{units} 位于社区 {community}，而网格 {grid} 属于社区 {grid_community}：网格不能跨越社区界线。",  # noqa: E501
    "Move them to a grid of community {community}.": "请将其移入社区 {community} 的网格。",
    "Grid {grid} does not touch {units}: with them it would be in several pieces.": "网格 {grid} 与{units}不相邻：移入后网格将分成几块。",  # noqa: E501
    "Move only units that share a boundary with grid {grid} (or with other units moved along with them).": "只能移入与网格 {grid}（或与一同移入的其他单元）有共同边界的单元。",  # noqa: E501
    "Grid {grids} is locked.": "网格 {grids} 已锁定。",
    "Unlock it first (“Unlock grid” in the edit panel), or leave locked grids alone.": "请先解锁（编辑面板中的“解锁网格”），或不要改动已锁定的网格。",  # noqa: E501
    "Grids {grids} are locked.": "网格 {grids} 已锁定。",
    "Unlock them first (“Unlock grid” in the edit panel), or leave locked grids alone.": "请先解锁这些网格（编辑面板中的“解锁网格”），或不要改动已锁定的网格。",  # noqa: E501
    "Moving {units} to grid {target} would leave grid {grid} without units.": "将{units}移入网格 {target} 会使网格 {grid} 没有任何单元。",  # noqa: E501
    "Merge grid {grid} into grid {target} instead, or leave one unit in grid {grid}.": "请改为将网格 {grid} 并入网格 {target}，或在网格 {grid} 中至少保留一个单元。",  # noqa: E501
    "Moving {units} to grid {target} would leave grid {grid} without {weight}.": "将{units}移入网格 {target} 会使网格 {grid} 没有{weight}。",  # noqa: E501
    "Leave a unit with {weight} in grid {grid}, or merge grid {grid} into grid {target}.": "请在网格 {grid} 中保留一个有{weight}的单元，或将网格 {grid} 并入网格 {target}。",  # noqa: E501
    "Moving {units} to grid {target} would cut grid {grid} in {pieces} pieces: {cut} would be cut off from the rest of it.": "将{units}移入网格 {target} 会把网格 {grid} 分成 {pieces} 块：{cut} 将与网格其余部分断开。",  # noqa: E501
    "Move these units along too, or choose units on the edge of grid {grid}.": "请把这些单元一并移动，或选择网格 {grid} 边缘的单元。",  # noqa: E501
    "Grid {grid} has a single unit: it cannot be split, since units are never cut.": "网格 {grid} 只有一个单元，而单元不可分割，因此无法拆分。",  # noqa: E501
    "Move a neighbouring unit into grid {grid} first, or split another grid.": "请先将一个相邻单元移入网格 {grid}，或拆分其他网格。",  # noqa: E501
    "Splitting grid {grid} this way leaves a half in {pieces} pieces: {cut} would be cut off.": "按此方式拆分网格 {grid} 会使其中一半分成 {pieces} 块：{cut} 将被断开。",  # noqa: E501
    "Split it so that both halves are in one piece each.": "请确保拆分后的两半各自连成一片。",
    "Splitting grid {grid} this way leaves a half without {weight}.": "按此方式拆分网格 {grid} 会使其中一半没有{weight}。",  # noqa: E501
    "Split it so that both halves have {weight}.": "请确保拆分后的两半都有{weight}。",
    "Grid {grid} cannot be split in two balanced halves.": "网格 {grid} 无法拆分为均衡的两半。",
    "Move units between grid {grid} and its neighbours by hand, or split another grid.": "请在网格 {grid} 与相邻网格之间手工移动单元，或拆分其他网格。",  # noqa: E501
    "Community {community} has used all {limit} grid numbers: a split needs a new one.": "社区 {community} 的 {limit} 个网格编号已全部用完，拆分需要新的编号。",  # noqa: E501
    "Merge grids instead, or partition afresh and edit again.": "请改为合并网格，或重新划分后再调整。",  # noqa: E501
    "Grid {grid} holds {total:g} {weight}: two grids of {minimum:g}-{maximum:g} need at least {need:g} (the most even split gives {smaller:g} and {larger:g}).": "网格 {grid} 只有 {total:g} {weight}：两个 {minimum:g}-{maximum:g} 的网格至少需要 {need:g}（最均衡的拆分为 {smaller:g} 和 {larger:g}）。",  # noqa: E501
    "Merge it with a neighbour and split the merged grid, or widen the range.": "请先与相邻网格合并再拆分，或放宽范围。",  # noqa: E501
    "Grids outside {minimum:g}-{maximum:g} {weight_name} ({count}): {out_grids}.": "超出 {minimum:g}-{maximum:g} {weight_name} 的网格（{count} 个）：{out_grids}。",  # noqa: E501
    "Widen the range to {widened_minimum:g}-{widened_maximum:g}, or give some communities another number of grids (“Grids per community”): a side of a community cut off by the river or an arterial road, with few large units, may not fill every grid it gets.": "请将范围放宽到 {widened_minimum:g}-{widened_maximum:g}，或为部分社区指定其他网格数（“各社区网格数”）：被河流或主干道隔开、单元少而大的社区一侧，可能填不满分给它的每个网格。",  # noqa: E501
    "Grids still outside {minimum:g}-{maximum:g} {weight_name} ({count}): {out_grids}.": "仍超出 {minimum:g}-{maximum:g} {weight_name} 的网格（{count} 个）：{out_grids}。",  # noqa: E501
    "Widen the range, or partition the street afresh (“Partition afresh”).": "请放宽范围，或重新划分整个街道（“重新划分”）。",  # noqa: E501
    "Community {community} has {total:g} households: no whole number of grids puts every grid within {minimum:g}-{maximum:g}.": "社区 {community} 有 {total:g} 户：任何整数个网格都无法使每个网格都在 {minimum:g}-{maximum:g} 之内。",  # noqa: E501
    "Widen the range for this community.": "请为该社区放宽范围。",
    "One side of community {community} (a forbidden barrier runs through it) has {total:g} households: no whole number of grids puts every grid within {minimum:g}-{maximum:g}.": "社区 {community} 被禁止跨越的障碍分开的一侧有 {total:g} 户：任何整数个网格都无法使每个网格都在 {minimum:g}-{maximum:g} 之内。",  # noqa: E501
    "Widen the range.": "请放宽范围。",
    "pick a grid on the overview map.": "请在总览地图上选择一个网格。",
    "this endpoint needs a log-in or an API token.": "此接口需要登录或 API 令牌。",
    "send your key as the api_key parameter.": "请以 api_key 参数发送您的密钥。",
    "log in through {login}, or send {header}.": "请通过 {login} 登录，或发送 {header}。",
    "the API token is not valid (unknown or revoked).": "API 令牌无效（未知或已撤销）。",
    "ask an admin for a token ({command}).": "请向管理员申请令牌（{command}）。",
    "{name} ({role}) may not do this: it needs {needed}.": "{name}（{role}）无权执行此操作：需要{needed}权限。",  # noqa: E501
    "use an account or token with the {needed} role.": "请使用具有{needed}角色的账户或令牌。",
    "Grid {grid} holds {total:g} {weight}: two grids of at least {minimum:g} need at least {need:g} (the most even split gives {smaller:g} and {larger:g}).": "网格 {grid} 只有 {total:g} {weight}：两个至少 {minimum:g} 的网格至少需要 {need:g}（最均衡的拆分为 {smaller:g} 和 {larger:g}）。",  # noqa: E501
    "Merge it with a neighbour and split the merged grid, or lower the minimum.": "请先与相邻网格合并再拆分，或降低下限。",  # noqa: E501
    "Grid {grid} cannot be merged with itself.": "网格 {grid} 不能与自身合并。",
    "Merge it with one of its neighbours: {neighbours}.": "请与其相邻网格之一合并：{neighbours}。",
    "Grid {keep} is in community {keep_community} and grid {other} in community {other_community}: a grid never crosses a community line.": "网格 {keep} 属于社区 {keep_community}，网格 {other} 属于社区 {other_community}：网格不能跨越社区界线。",  # noqa: E501
    "Merge grid {other} with a neighbour of its own community: {neighbours}.": "请将网格 {other} 与本社区的相邻网格合并：{neighbours}。",  # noqa: E501
    "Grids {keep} and {other} do not touch: merged, they would be in two pieces.": "网格 {keep} 与 {other} 不相邻：合并后将分成两块。",  # noqa: E501
    "Merge grid {keep} with one of its neighbours: {neighbours}.": "请将网格 {keep} 与其相邻网格之一合并：{neighbours}。",  # noqa: E501
    "Grid {grid} is already locked.": "网格 {grid} 已经锁定。",
    "Grid {grid} is not locked.": "网格 {grid} 未锁定。",
    "Nothing to do.": "无需操作。",
    "There is nothing to undo.": "没有可撤销的调整。",
    "Undo takes back the edits of this draft; none is left.": "撤销只针对本草稿的调整，已没有可撤销的调整。",  # noqa: E501
    "There is nothing to redo.": "没有可重做的调整。",
    "Redo makes again an edit you undid; a new edit after an undo clears them.": "重做可恢复被撤销的调整；撤销后若又有新的调整，则无法再重做。",  # noqa: E501
    "Grid {grid} does not exist.": "网格 {grid} 不存在。",
    "Grid {grid} no longer exists (merged away, or its split undone).": "网格 {grid} 已不存在（已被合并，或其拆分已撤销）。",  # noqa: E501
    "Choose a grid of this draft on the map.": "请在地图上选择本草稿中的网格。",
    "Community {community} has {weight:g} {weight_name}: no whole number of grids gives {minimum:g}–{maximum:g} per grid ({fewer} grids give {fewer_gives}, {more} grids give {more_gives}).": "社区 {community} 的{weight_name}数为 {weight:g}：任何整数个网格都无法使每格在 {minimum:g}–{maximum:g} 之间（{fewer} 个网格每格 {fewer_gives}，{more} 个网格每格 {more_gives}）。",  # noqa: E501
    "Widen the allowed range (minimum and maximum), or give the number of grids per community.": "请放宽允许范围（下限和上限），或按社区指定网格数。",  # noqa: E501
    "Community {community} has {weight:g} {weight_name}: too few for one grid of {minimum:g}–{maximum:g}.": "社区 {community} 的{weight_name}数为 {weight:g}，不足以组成一个 {minimum:g}–{maximum:g} 的网格。",  # noqa: E501
    "Lower the minimum to {weight:g} or less.": "请将下限降至 {weight:g} 或以下。",
    "{grids} grids cannot cover {communities} communities with households.": "{grids} 个网格无法覆盖 {communities} 个有住户的社区。",  # noqa: E501
    "Ask for at least {communities} grids (one per community).": "请至少设置 {communities} 个网格（每个社区一个）。",  # noqa: E501
    "Community {community} would need {grids} grids but has only {units} units with {weight}: some grids would be empty.": "社区 {community} 需要 {grids} 个网格，但只有 {units} 个有{weight}的单元：部分网格将为空。",  # noqa: E501
    "Ask for fewer grids: a larger target or minimum, or a smaller number of grids.": "请减少网格数：提高目标或下限，或减少网格总数。",  # noqa: E501
    # incident lifecycle refusals on the incident page (web/messages.py, web/incident_page.py)
    "There is no incident {incident}.": "事件 {incident} 不存在。",
    "Check the id, or find the incident on the Incidents page.": "请核对编号，或在“事件”页面查找该事件。",  # noqa: E501
    "“{to}” is not an incident status.": "“{to}”不是事件状态。",
    "Mark the incident with one of the page's buttons (statuses: {statuses}).": "请用页面上的按钮标记事件（状态：{statuses}）。",  # noqa: E501
    "No new status was chosen.": "未选择新的状态。",
    "Mark the incident with one of the page's buttons.": "请用页面上的按钮标记事件。",
    "Incident {incident} is {status}: it cannot become {to}.": "事件 {incident} 当前为“{status}”，不能变为“{to}”。",  # noqa: E501
    "Mark it as one of: {next}.": "请标记为以下之一：{next}。",
    "Incident {incident} is {status}, which is final: it cannot become {to}.": "事件 {incident} 当前为“{status}”，已结束，不能再变为“{to}”。",  # noqa: E501
    "Report a new incident if the matter came back.": "如问题再次出现，请重新上报一个事件。",
    "The time {at} is before incident {incident} was reported ({reported}).": "时间 {at} 早于事件 {incident} 的上报时间（{reported}）。",  # noqa: E501
    "Give a time after the report.": "请填写上报之后的时间。",
    "Incident {incident} changed while it was being marked as {to}.": "事件 {incident} 在标记为“{to}”时被他人修改。",  # noqa: E501
    "Reload the page and try again.": "请刷新页面后重试。",
    "Incident {incident} is {status}: a finished incident is not escalated.": "事件 {incident} 当前为“{status}”：已结束的事件不能上报上一级。",  # noqa: E501
    "Report a new incident if the matter needs more handling.": "如需继续处理，请重新上报一个事件。",  # noqa: E501
    "Incident {incident} has an unknown handling level “{level}”.": "事件 {incident} 的处理层级“{level}”无效。",  # noqa: E501
    "Ask an administrator to set its handling level to one of: {levels}.": "请管理员将其处理层级改为以下之一：{levels}。",  # noqa: E501
    "Incident {incident} is already handled by the {level}, the highest level.": "事件 {incident} 已由{level}处理，这是最高层级。",  # noqa: E501
    "Handle it at the {level} level.": "请在{level}层级处理。",
    # the workbench's own input checks (web/workbench.py)
    "the workbench needs a log-in.": "网格调整工作台需要登录。",
    "log in through /login.": "请通过 /login 登录。",
    "{name} ({role}) may not use the workbench: it needs editor.": "{name}（{role}）无权使用网格调整工作台：需要编辑者角色。",  # noqa: E501
    "log in with an editor or admin account.": "请用编辑者或管理员账号登录。",
    "the request body is not a JSON object.": "请求体不是 JSON 对象。",
    "send JSON such as {example}.": "请发送 JSON，例如 {example}。",
    "{field} must be {kind} greater than 0, not {value}.": "{field}必须是大于 0 的{kind}，而不是 {value}。",  # noqa: E501
    "enter {kind} greater than 0 for {field}.": "请为{field}填写大于 0 的{kind}。",
    "{field} must be at most {limit}, not {value}.": "{field}最多为 {limit}，不能是 {value}。",
    "ask for at most {limit} grids.": "网格数最多为 {limit} 个。",
    "{field} {value} is not one of {allowed}.": "{field} {value} 不是以下之一：{allowed}。",
    "give {field} as one of: {allowed}.": "{field}请使用以下之一：{allowed}。",
    "{name} is missing or not a grid code.": "{name} 缺失或不是网格编码。",
    "give {name} as a grid code string, e.g. {example}.": "请以字符串给出网格编码 {name}，例如 {example}。",  # noqa: E501
    "the range {minimum:g}-{maximum:g} does not hold the target {target:g}.": "范围 {minimum:g}–{maximum:g} 不包含目标 {target:g}。",  # noqa: E501
    "give minimum <= target <= maximum (e.g. 300, 400, 500).": "请使下限 ≤ 目标 ≤ 上限（例如 300、400、500）。",  # noqa: E501
    "both grids and per_community were given.": "同时给出了 grids 和 per_community。",
    "ask for a number of grids for the street, or per community, not both.": "请只指定全街道的网格总数或各社区网格数之一，不要同时指定。",  # noqa: E501
    "locked is not a list of grid codes.": "locked 不是网格编码列表。",
    "give locked as {example}.": "请将 locked 写为 {example}。",
    "a redraw keeps the published grids and balances them to a range; it takes no number of grids.": "在原方案上调整会保留已发布的网格并按范围均衡，不接受网格数。",  # noqa: E501
    "choose “Partition afresh” to ask for a number of grids, or give a target range.": "如需指定网格数，请选择“重新划分”；否则请给出目标范围。",  # noqa: E501
    "locked grids apply to a redraw of the published plan.": "锁定网格仅适用于在已发布方案基础上调整。",  # noqa: E501
    "choose “Redraw from the published plan”, or leave the locked grids empty.": "请选择“在已发布方案基础上调整”，或不填锁定的网格。",  # noqa: E501
    "{field} {value} is not a whole number >= 0.": "{field} {value} 不是大于等于 0 的整数。",
    "give {field} as 0, 1...": "{field}请填写 0、1……",
    "per_community is not an object of community code -> grids.": "per_community 不是“社区编码 -> 网格数”的对象。",  # noqa: E501
    "give per_community as {example}.": "请将 per_community 写为 {example}。",
    "per_community names unknown communities: {unknown}.": "per_community 中有未知社区：{unknown}。",  # noqa: E501
    "use the community codes {codes}.": "请使用以下社区编码：{codes}。",
    "no number of grids is given for community {names}.": "未填写社区 {names} 的网格数。",
    "give every community a number of grids (1 or more).": "请为每个社区填写网格数（1 或以上）。",
    "full={value} is neither 0 nor 1.": "full={value} 既不是 0 也不是 1。",
    "give full=1 or leave it.": "请使用 full=1，或不带此参数。",
    "units is missing or not a list of unit indices.": "units 缺失或不是单元序号列表。",
    "give units as whole numbers, e.g. {example}.": "请以整数给出 units，例如 {example}。",
    "note is not a text of at most 500 characters.": "备注必须是不超过 500 个字符的文本。",
    "give a short note, or none.": "请填写简短备注，或留空。",
    "there is no draft {id} of {owner}.": "用户 {owner} 没有草稿 {id}。",
    "run a plan again (the “Run” button, or POST /workbench/api/run): drafts live in memory, at most {n} per user, and are lost when the app restarts.": "请重新运行方案（“运行”按钮，或 POST /workbench/api/run）：草稿只保存在内存中，每位用户最多 {n} 个，应用重启后即丢失。",  # noqa: E501
    "a whole number": "整数",
    "a number": "数字",
    "target": "目标",
    "minimum": "下限",
    "maximum": "上限",
    "number of grids": "网格总数",
    "seed": "随机种子",
    "mode": "方式",
    "weight": "均衡依据",
    "the number of grids of community {name}": "社区 {name} 的网格数",
    # JSON API refusals for requests in Chinese (web/api_incidents.py, web/api.py)
    "send a JSON object, e.g. {example}, with Content-Type: application/json.": "请发送 JSON 对象（例如 {example}），并设置 Content-Type: application/json。",  # noqa: E501
    "{name}={value} is out of range.": "{name}={value} 超出范围。",
    "give {name} as a whole number >= 0.": "{name} 须为大于等于 0 的整数。",
    "give {name} as a whole number from 0 to {largest}.": "{name} 须为 0 到 {largest} 之间的整数。",
    "{name}={value} is not a whole number.": "{name}={value} 不是整数。",
    "{name} is missing.": "缺少 {name}。",
    "use one of: {allowed} (GET /open311/v2/services.json).": "请使用以下之一：{allowed}（见 GET /open311/v2/services.json）。",  # noqa: E501
    "unknown {name} {value}.": "未知的 {name}：{value}。",
    "give lat and long (or lon) in decimal degrees (WGS84), e.g. lat=30.65, long=104.06.": "请以十进制度（WGS84）给出 lat 和 long（或 lon），例如 lat=30.65, long=104.06。",  # noqa: E501
    "{name}={value} is outside -{limit:g}..{limit:g} degrees.": "{name}={value} 超出 -{limit:g}..{limit:g} 度的范围。",  # noqa: E501
    "{name}={value} is not a number.": "{name}={value} 不是数字。",
    "id {value} is not a usable incident id.": "id {value} 不是可用的事件编号。",
    "use 1 to 64 letters, digits, '_', '.', ':' or '-', or leave id out.": "请使用 1 到 64 个字母、数字、'_'、'.'、':' 或 '-'，或不提供 id。",  # noqa: E501
    "the point lat={lat}, long={lon} is {distance} m from the nearest grid, farther than the {tolerance:g} m allowed: it is outside the street.": "点 lat={lat}, long={lon} 距最近的网格 {distance} 米，超出允许的 {tolerance:g} 米：不在本街道范围内。",  # noqa: E501
    "check the coordinates (WGS84 decimal degrees, lat first) or report it to the street that holds the place.": "请检查坐标（WGS84 十进制度，先纬度后经度），或将其报送该地点所属的街道。",  # noqa: E501
    "use one of: {allowed}.": "请使用以下之一：{allowed}。",
    "there is no incident {id}.": "事件 {id} 不存在。",
    "list incidents with GET /api/incidents.": "可用 GET /api/incidents 列出事件。",
    "there is no plan {id}.": "方案 {id} 不存在。",
    "list the plans with GET /api/plans.": "可用 GET /api/plans 列出方案。",
    "{name}={value} is not a positive number.": "{name}={value} 不是正数。",
    "give {name} > 0.": "{name} 须大于 0。",
    "the range min={minimum:g}..max={maximum:g} does not hold target={target:g}.": "范围 min={minimum:g}..max={maximum:g} 不包含 target={target:g}。",  # noqa: E501
    "give min <= target <= max.": "请使 min ≤ target ≤ max。",
    "give a whole number.": "请给出整数。",
    "per_community must map community codes to whole numbers of grids.": "per_community 须将社区编码映射为整数网格数。",  # noqa: E501
    "send e.g. {example}.": "例如发送 {example}。",
    "give 0, 1, 2...": "请给出 0、1、2……",
    "use format=json or format=geojson.": "请使用 format=json 或 format=geojson。",
    "give one of: {allowed}.": "请给出以下之一：{allowed}。",
    "there is no grid {code} in the published plan.": "已发布方案中没有网格 {code}。",
    "list the grids with GET /api/grids (codes have 15 digits).": "可用 GET /api/grids 列出网格（编码为 15 位）。",  # noqa: E501
    "give lat and lon in decimal degrees (WGS84), e.g. {example}.": "请以十进制度（WGS84）给出 lat 和 lon，例如 {example}。",  # noqa: E501
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
    """The language chosen for this request (English outside a request or an app context)."""
    return getattr(g, "language", "en") if has_app_context() else "en"


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
