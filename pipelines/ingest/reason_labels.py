"""The loader's quarantine reasons in the reader's language: the English text stays the record, Chinese is shown.

The loader (validate, load, readers; contract_sql reuses validate's words) writes each reason in English, naming
the contract column and quoting the offending value. Officials read the dashboard in 简体中文, so a reason is
translated at display time by the ordered table below: a regex over one English reason and a Chinese template
using its captured groups. Groups named ``col``/``col2`` hold contract column names and are shown by their
Chinese header (the column's first alias with a Chinese character), ``cols`` a ", "-separated list of them, ``rows``
the rows a conflict reason names; every other group (values, file names, codes) is shown as written. A reason no pattern knows is shown in English rather than guessed.

A file refused whole (readers/validate/load ``IngestError``, stored as the ledger's 'failed' message) has one
reason, in the same table: ``refusal_text`` matches it whole (several hold "; " of their own) for `ipcity status`,
the run summary, the refused-file alert and the quality page.

Pure functions only (no Dash), used by the dashboard's quality page, the CLI and the alerts.
"""

from __future__ import annotations

import re
from functools import cache

from pipelines.sources import SOURCES

_CJK = re.compile(r"[\u3400-\u9fff]")
REASON_SEPARATOR = "; "  # how validate._reasons joins the reasons of one row
ZH_SEPARATOR = "；"


@cache
def _ratio_labels() -> dict[str, str]:
    """What each record rule's ratio is, in Chinese (the contract's RecordRule.label -> label_zh)."""
    return {r.label: r.label_zh for source in SOURCES.values() for r in source.record_rules}


# (English reason, Chinese template). Anchored at both ends; the first pattern that matches wins, so a narrow
# pattern comes before a broader one sharing its start ("unknown region code in" before "unknown {column}").
_COL = r"(?P<col>\w+)"
_COL2 = r"(?P<col2>\w+)"
# a note's count, said by pipelines.counts ("1,000 cells"), and its plural: "" or "s" (older ledger rows: "(s)")
_N = r"(?P<n>\d[\d,]*)"
_S = r"(?:s|\(s\))?"
# a list's noun without a count, said by pipelines.counts.noun_en ("column" / "columns"; older ledger rows "column(s)")
_LS = _S
_ONSHEET = r"(?P<onsheet> \(sheet .*\))?"  # a note's " (sheet 1月)" in a workbook of several sheets
_PATTERNS: tuple[tuple[str, str], ...] = (
    # a whole file refused (readers/validate/load IngestError, the launcher's and the raw asset's ledger reasons):
    # one reason for the file, matched whole by refusal_text (several hold "; " of their own)
    (r"file is empty", "文件为空"),
    (
        r"units disagree: group title '(?P<title>.*)' states (?P<tu>\S+) over sub-column '(?P<sub>.*)' stating "
        r"(?P<su>\S+); which the figures are in cannot be told \(state one unit, in the title or the sub-columns\)",
        "单位矛盾：分组标题“{title}”注明{tu}，其下子列“{sub}”却注明{su}；无法判断数值的单位"
        "（请只注明一种单位：写在标题中或各子列中）",
    ),
    (
        r"still arriving: the file changed less than (?P<s>[\d.]+) s ago, it is read once its copy is complete "
        r"\(IPCITY_LANDING_SETTLE_S\)",
        "文件仍在传入：{s} 秒内刚有变动，待复制完成后再读取（IPCITY_LANDING_SETTLE_S）",
    ),
    (
        r"still arriving: the file changed while it was read \(its size or modification time\), nothing of it is "
        r"loaded; it is read again once its copy is complete",
        "文件仍在传入：读取期间其大小或修改时间发生变化，未入库任何数据；待复制完成后重新读取",
    ),
    (r"file has a header but no data rows", "文件只有表头，没有数据行"),
    (
        r"unsupported file type '(?P<suffix>.*)' \(use CSV, Parquet, XLSX or XLS\)",
        "不支持的文件类型“{suffix}”（请使用 CSV、Parquet、XLSX 或 XLS）",
    ),
    (
        r"the file is an Excel 2003 XML spreadsheet, named \.xls, not a workbook: open it in Excel or WPS and save it "
        r"as \.xlsx, or export CSV",
        "该文件是 Excel 2003 XML 电子表格，只是命名为 .xls，并非工作簿：请用 Excel 或 WPS 打开后另存为 .xlsx，或导出 CSV",
    ),
    (
        r"the file is a web page \(HTML table\), as some web systems export 'Excel', named \.xls, not a workbook: open "
        r"it in Excel or WPS and save it as \.xlsx, or export CSV",
        "该文件是网页（HTML 表格，部分网上系统“导出Excel”即为此格式），只是命名为 .xls，并非工作簿："
        "请用 Excel 或 WPS 打开后另存为 .xlsx，或导出 CSV",
    ),
    (
        r"unreadable Excel file \(neither an Excel 97-2003 workbook nor a text table\)",
        "无法读取的 Excel 文件（既不是 Excel 97-2003 工作簿，也不是文本表格）",
    ),
    (
        r"a WPS spreadsheet \(\.et\) that is not readable as an Excel workbook: open it in WPS and save it as \.xlsx "
        r"\(文件 → 另存为 → Excel 工作簿\), or export CSV",
        "该文件是无法按 Excel 工作簿读取的 WPS 表格（.et）：请用 WPS 打开后另存为 .xlsx（文件 → 另存为 → Excel 工作簿），或导出 CSV",
    ),
    (r"unreadable Excel file \((?P<error>.*)\)", "无法读取的 Excel 文件（{error}）"),
    (r"unreadable Parquet file \((?P<error>.*)\)", "无法读取的 Parquet 文件（{error}）"),
    (
        r"no header row found in the first (?P<n>\d+) rows: expected columns such as (?P<cols>\w+(?:, \w+)*)",
        "前{n}行中找不到表头行：应有{cols}等列",
    ),
    (
        r"sheet"
        + _LS
        + r" (?P<sheets>.*) cannot be mapped: no header row in the first (?P<n>\d+) rows \(expected columns "
        r"such as (?P<cols>\w+(?:, \w+)*)\); remove them or move them to their own file",
        "工作表 {sheets} 无法对应：前{n}行中找不到表头行（应有{cols}等列）；请删除这些工作表，或将其另存为单独的文件",
    ),
    (
        r"months as columns \(row (?P<row>\d+): (?P<labels>.*)\): the table needs one row per city and month, the month "
        r"in a column of its own \(月份\) and each figure beside it; send the months down the rows, not across",
        "月份横向排列（第 {row} 行：{labels}）：表格应每个城市每个月一行，月份单独成列（月份），各项数值列在其旁；"
        "请将月份纵向排列，不要横向排列",
    ),
    (
        r"quarters or half years as columns \(row (?P<row>\d+): (?P<labels>.*)\): the table needs one row per unit and "
        r"period, the period in a column of its own \(年份 or 月份\) and each figure beside it; send each month's \(or "
        r"year's\) own figures down the rows",
        "季度或半年横向排列（第 {row} 行：{labels}）：表格应每个单位每个时期一行，时期单独成列（年份或月份），各项数值列在其旁；"
        "请按月（或按年）纵向填报各期自身的数值",
    ),
    (
        r"years as columns \(row (?P<row>\d+): (?P<labels>.*)\): the table needs one row per unit and period, the "
        r"period in a column of its own \(年份 or 月份\) and each figure beside it; send the years down the rows, not "
        r"across",
        "年份横向排列（第 {row} 行：{labels}）：表格应每个单位每个时期一行，时期单独成列（年份或月份），各项数值列在其旁；"
        "请将年份纵向排列，不要横向排列",
    ),
    (
        r"the title above the table states (?P<title>\d{4}-\d{2}) but every row's month is (?P<month>\d{4}-\d{2}): "
        r"which month the figures are cannot be told \(correct the title or the month column\)",
        "表格上方标题注明的月份是 {title}，而每一行的月份都是 {month}：无法判断这些数字属于哪个月（请更正标题或月份列）",
    ),
    (
        r"the (?P<origin>title above the table|file name) states several months \('(?P<words>.*)', (?P<first>\S+) to "
        r"(?P<last>\S+)\) and every row is (?P<month>\S+): the figures are the period's total, not the month's own "
        r"\(send each month's own figures, one row per month\)",
        "{origin}注明的是多个月（“{words}”，{first} 至 {last}），而每一行的月份都是 {month}：这些数字是该期间的合计，"
        "不是当月数（请报送各月当月数，每月一行）",
    ),
    (
        r"figures rising month after month for every unit \((?P<n>\d+) of them, e\.g\. (?P<unit>\S+) "
        + _COL
        + r": (?P<values>.*) in (?P<months>.*)\): running totals \(本年累计\), not each month's own figures, though no "
        r"header says 累计 \(send each month's own figures; if these are, head the columns 本月… such as 本月登记笔数\)",
        "每个单位的数字都逐月只增不减（共{n}个，如{unit}的{col}：{months} 依次为 {values}）：这是本年累计数，"
        "不是各月当月数，尽管表头没有写“累计”（请报送各月当月数；若这些确为当月数，请在表头写明“本月”，如“本月登记笔数”）",
    ),
    (r"workbook's first sheet is empty", "工作簿的第一个工作表为空"),
    (r"workbook has no data sheet \((?P<sheets>.*)\)", "工作簿中没有数据工作表（{sheets}）"),
    (
        r"sheets use different units for " + _COL + r": sheet '(?P<sheet>.*)' header '(?P<header>.*)' differs from "
        r"'(?P<other>.*)' on an earlier sheet; send one unit per file",
        "各工作表的{col}单位不一致：工作表“{sheet}”的表头“{header}”与前面工作表的“{other}”不同；每个文件请只用一种单位",
    ),
    (r"sheets state different units: (?P<units>.*)", "各工作表注明的单位不一致：{units}"),
    (
        r"sheet '(?P<sheet>.*)' has no month column and its year cannot be told \(name the sheet 2025年1月\)",
        "工作表“{sheet}”没有月份列，也无法判断年份（请将工作表命名为 2025年1月 这样的形式）",
    ),
    (
        r"header"
        + _LS
        + r" (?P<headers>.*) under (?P<groups>.*): a year-to-date \(cumulative\) total, not the month's own "
        r"figure \(send each month's own figures, or put them beside the total under a group titled 本月\)",
        "表头 {headers} 位于 {groups} 之下：这是年初至今的累计数，不是当月数（请报送各月当月数，"
        "或将当月数放在累计数旁、标题为“本月”的分组下）",
    ),
    (
        r"header"
        + _LS
        + r" (?P<headers>.*): a year-to-date \(cumulative\) total, not the month's own figure \(send each "
        r"month's own figures, or put them beside the total under a header such as 本月登记笔数\)",
        "表头 {headers}：这是年初至今的累计数，不是当月数（请报送各月当月数，或将当月数放在累计数旁，"
        "表头写作“本月登记笔数”等）",
    ),
    (
        r"header"
        + _LS
        + r" (?P<headers>.*) under (?P<groups>.*): the figures of an earlier period \(a comparison\), not the "
        r"month's own \(send the month's own figures, or put them beside under a group titled 本月\)",
        "表头 {headers} 位于 {groups} 之下：这是以往期间的数字（用于对比），不是当月数（请报送当月数，"
        "或将其放在标题为“本月”的分组旁）",
    ),
    (
        r"(?P<spans>header '.*' spans sub-columns .*): which one holds the value is not told \(keep one sub-column per "
        r"header, or send the sub-column under the header's own name\)",
        "{spans}：无法判断数值在哪一子列（每个表头下请只保留一个子列，或以该表头本身的名称报送该子列）",
    ),
    (
        r"not valid UTF-16 text \(byte (?P<byte>\d+)\): cannot decode",
        "不是有效的 UTF-16 文本（第 {byte} 字节）：无法解码",
    ),
    (
        r"not valid UTF-8 or GBK text \(byte (?P<byte>\d+)\): cannot decode",
        "既不是有效的 UTF-8 文本，也不是有效的 GBK 文本（第 {byte} 字节）：无法解码",
    ),
    (
        r"mixed text encodings: line (?P<a>\d+) is UTF-8 but line (?P<b>\d+) is not; save the whole file in one "
        r"encoding",
        "文本编码混用：第 {a} 行是 UTF-8，第 {b} 行却不是；请将整个文件以同一种编码保存",
    ),
    (
        r"malformed CSV at line (?P<line>\d+): a field starts with a quote \(\"\) but goes on after its closing quote "
        r'\(quote the whole field and write each quote in it twice: """快速预审""讲座", or remove the quotes\)',
        '第 {line} 行 CSV 格式错误：某字段以引号（"）开头，但在其闭合引号之后仍有内容'
        '（请给整个字段加引号，并将其中的每个引号写两遍："""快速预审""讲座"；或删去引号）',
    ),
    (
        r"malformed CSV at line (?P<line>\d+): a quote \(\"\) opens a field that is never closed, so every line after "
        r'it was read into that field \(close it, or write a quote inside a quoted field twice: ""\)',
        '第 {line} 行 CSV 格式错误：某字段的引号（"）始终未闭合，其后各行都被读入了该字段'
        '（请补上闭合引号；加引号的字段中的引号请写两遍：""）',
    ),
    (
        r"the file ends inside a quoted field \(\"\.\.\.\) - it was probably cut off",
        '文件在一个加引号的字段（"...）中结束——文件可能不完整（传输或下载被中断）',
    ),
    (r"malformed CSV \((?P<error>.*)\)", "CSV 格式错误（{error}）"),
    (
        r"two tables side by side: columns (?P<left>\w+–\w+) and (?P<right>\w+–\w+), with the empty column band "
        r"(?P<band>\w+–\w+) between them, each with a '(?P<header>.*)' column; which one is this file's table cannot be "
        r"told \(send each table in its own file or sheet\)",
        "表内并排放有两个表格：{left} 列与 {right} 列，中间隔着空白列 {band}，两表都有“{header}”列；无法判断哪一个是"
        "本文件的表格（请把每个表格放在单独的文件或工作表中报送）",
    ),
    (
        r"column '" + _COL + r"' appears twice \(header '(?P<header>.*)' repeated\)",
        "{col}列出现了两次（表头“{header}”重复）",
    ),
    (
        r"column '" + _COL + r"' appears twice \(as '(?P<header>.*)' and another header\)",
        "{col}列出现了两次（表头“{header}”与另一表头）",
    ),
    (
        r"header '(?P<header>.*)': per cent given for " + _COL + r", which is not a share",
        "表头“{header}”：{col}不是比例，却注明了百分比",
    ),
    (
        r"header '(?P<header>.*)': unit '(?P<unit>.*)' cannot be converted into " + _COL + r" \(expected one of "
        r"(?P<units>.*)\)",
        "表头“{header}”：单位“{unit}”无法换算为{col}（应为 {units} 之一）",
    ),
    (
        r"header '(?P<header>.*)': unit '(?P<unit>.*)' cannot be converted into " + _COL + r" \(expected a count\)",
        "表头“{header}”：单位“{unit}”无法换算为{col}（应为计数）",
    ),
    (
        r"unit conflict: header '(?P<header>.*)' says (?P<unit>\S+) but the (?P<where>note below the table|line above "
        r"the table) says 单位：(?P<line>.*)",
        "单位冲突：表头“{header}”为{unit}，但{where}注明“单位：{line}”",
    ),
    (
        r"the unit the table states gives counts in (?P<unit>\S+) \(单位：(?P<line>.*)\): "
        r"the counts \((?P<headers>.*)\) are loaded as whole numbers, not in tens of thousands \(send each count "
        r"itself, e\.g\. 12500 not 1\.25\)",
        "表格注明的单位以{unit}计数（单位：{line}）：计数列（{headers}）按整数入库，不能以“万”为单位（请填报计数本身，"
        "如 12500 而非 1.25）",
    ),
    (
        r"no month column, and the (?P<origin>title above the table|file name) states several months \('(?P<words>.*)'\): "
        r"the figures are the period's total, not one month's \(send each month's own figures: a 月份 column, or one "
        r"file per month\)",
        "没有月份列，而{origin}注明的是多个月的期间（'{words}'）：这些数字是该期间的合计，不是某一个月的数字"
        "（请报送每个月各自的数字：加一列“月份”，或每月一个文件）",
    ),
    (r"missing required column" + _LS + r": (?P<missing>.*)", "缺少必填列：{missing}"),
    (
        r"administrative divisions \(raw\.cities\) are not loaded yet; load cities first",
        "行政区划（raw.cities）尚未入库；请先载入行政区划",
    ),
    (
        r"cannot decode the text \(byte (?P<byte>\d+), (?P<encoding>.*)\): save the file as UTF-8 or GBK",
        "无法解码文本（第 {byte} 字节，{encoding}）：请将文件保存为 UTF-8 或 GBK 编码",
    ),
    (r"the file is too large to read in memory", "文件过大，无法在内存中读取"),
    (r"could not read the file \((?P<error>.*)\)", "无法读取该文件（{error}）"),
    # the raw asset cuts its reason at 500 characters, which may drop the closing bracket
    (r"could not load the file \((?P<error>.*?)\)?", "无法载入该文件（{error}）"),
    (
        r"cannot tell the data year: no readable " + _COL + r" dates in the file and no single data year in its name "
        r"\(name it like 2025年12月_\.\.\., or fill the dates\)",
        "无法判断数据年份：文件中没有可读的{col}，文件名中也没有唯一的数据年份（请将文件命名为 2025年12月_... 这样的形式，或填写日期）",
    ),
    (
        r"data year (?P<year>\d+) is outside the years the pipeline holds \((?P<first>\d+)–(?P<last>\d+)\)",
        "数据年份 {year} 不在本系统所涵盖的年份（{first}–{last}）之内",
    ),
    # whole-row reasons: the row is no record at all
    (
        r"own-level row \('(?P<label>.*)'\): the figures of a province's or city's own departments \(本级\), not a "
        r"city's record",
        "本级行（'{label}'）：为省或市本级部门自身的数据，不是某个城市的记录",
    ),
    (
        r"title of a second table on the sheet, not a record: '(?P<value>.*)'",
        "表内第二个表格的标题行，不是一条记录：'{value}'",
    ),
    (
        r"subtotal row without a name: (?P<cols>[\w, ]+) blank and its figures the sums of the (?P<n>\d+) rows above "
        r"it, not a record",
        "小计行（未填名称）：{cols}为空，且各项数字等于其上方{n}行之和，不是一条记录",
    ),
    (
        r"total row without a name: (?P<cols>[\w, ]+) blank and its figures the sums of the file's other (?P<n>\d+) "
        r"rows, not a record",
        "合计行（未填名称）：{cols}为空，且各项数字等于本文件其他{n}行之和，不是一条记录",
    ),
    (
        r"total row \('(?P<label>.*)'\): a sum of other rows, not a record",
        "合计行（'{label}'）：为其他行之和，不是一条记录",
    ),
    (
        r"total row: (?P<level>national|province) code (?P<code>\S+) in " + _COL + r" where a city is expected",
        "合计行：{col}中是{level}代码 {code}，此处应为城市",
    ),
    (
        r"total row: (?P<code>\d{6}) is the sum of the rows of units inside it \((?P<codes>[\d, ]+) and (?P<more>\d+) "
        r"more\) for the same " + _COL + r" (?P<value>\S+) in this file, not a record of its own",
        "合计行：{code} 等于本文件中同一{col}（{value}）其下属单位（{codes} 及另外{more}个）各行之和，不是一条独立记录",
    ),
    (
        r"total row: (?P<code>\d{6}) is the sum of the rows of units inside it \((?P<codes>[\d, ]+)\) for the same "
        + _COL
        + r" (?P<value>\S+) in this file, not a record of its own",
        "合计行：{code} 等于本文件中同一{col}（{value}）其下属单位（{codes}）各行之和，不是一条独立记录",
    ),
    (
        r"breakdown row \((?P<label>.*)\) under row (?P<row>\d+) \((?P<stated>.*)\): part of the figures that row "
        r"states, not a record of its own \(the stated row is loaded\)",
        "“其中”分项行（{label}）：属于第 {row} 行（{stated}）所填数字的一部分，不是一条独立记录（已按该行所填数字入库）",
    ),
    (r"note below the table, not a record: '(?P<text>.*)'", "表格下方的备注，不是一条记录：'{text}'"),
    (r"header row repeated inside the table, not a record", "表内重复出现的表头行，不是一条记录"),
    (
        r"header row repeated inside the table with its columns in another order, not a record \((?P<cells>.*) "
        r"where the file's header has (?P<header>.*)\)",
        "表内重复出现的表头行，且列的顺序不同，不是一条记录（此处为 {cells}，文件表头为 {header}）",
    ),
    (
        r"read under the header repeated at row (?P<row>\d+) whose columns are in another order: send one table per "
        r"file",
        "位于第 {row} 行重复出现的表头之下，该表头的列顺序不同：请每个文件只报送一张表",
    ),
    (
        r"read under the second table titled '(?P<value>.*)' at row (?P<row>\d+), not this file's records: send one "
        r"table per file",
        "位于第 {row} 行标题为“{value}”的第二个表格之下，不是本文件的记录：请每个文件只报送一张表",
    ),
    (
        r"read under the header repeated at row (?P<row>\d+) after the total row (?P<total>\d+) \('(?P<value>.*)'\), "
        r"a second table, not this file's records: send one table per file",
        "位于第 {total} 行合计行（'{value}'）之后、第 {row} 行重复出现的表头之下，为第二个表格，不是本文件的记录："
        "请每个文件只报送一张表",
    ),
    (
        r"header row repeated inside the table with another unit, not a record \((?P<cells>.*) "
        r"where the file's header has (?P<header>.*)\)",
        "表内重复出现的表头行，且单位不同，不是一条记录（此处为 {cells}，文件表头为 {header}）",
    ),
    (
        r"read under the header repeated at row (?P<row>\d+) whose unit differs: send one table per file",
        "位于第 {row} 行重复出现的表头之下，该表头的单位不同：请每个文件只报送一张表",
    ),
    (
        r"too many fields: row has (?P<n>\d+) fields, header has (?P<m>\d+) \(unquoted comma\?\)",
        "字段过多：该行有{n}个字段，表头只有{m}个（是否有未加引号的逗号？）",
    ),
    (
        r"truncated row: file ends after (?P<n>\d+) of (?P<m>\d+) fields",
        "截断行：文件在第{n}个字段后结束（应有{m}个字段）",
    ),
    (
        r"conflicting records: (?P<key>.*?) differs from (?P<rows>row \d.*?) in (?P<cols>\w+(?:, \w+)*) \(no row of "
        r"this key is loaded\)",
        "冲突记录：{key} 与{rows}的{cols}不同（该键的各行均未载入）",
    ),
    (r"duplicate record: key already loaded from file (?P<file>.*)", "重复记录：该键已从文件 {file} 载入"),
    (
        r"duplicate record: (?P<key>.*) same as row (?P<row>\d+) of hidden sheet '(?P<sheet>.*)'",
        "重复记录：{key} 与隐藏工作表“{sheet}”第 {row} 行相同",
    ),
    (
        r"duplicate record: (?P<key>.*) same as row (?P<row>\d+) of sheet '(?P<sheet>.*)'",
        "重复记录：{key} 与工作表“{sheet}”第 {row} 行相同",
    ),
    (r"duplicate record: (?P<key>.*) same as row (?P<row>\d+)", "重复记录：{key} 与第 {row} 行相同"),
    # a cell
    (r"missing value in " + _COL, "{col}缺少值"),
    (r"not a number in " + _COL + r": '(?P<value>.*)'", "{col}不是数字：'{value}'"),
    (
        r"a percentage in " + _COL + r": '(?P<value>.*)' where an amount or count is expected \(write the figure "
        r"itself, not a share\)",
        "{col}填的是百分比：'{value}'，此处应为金额或数量（请填写数值本身，而非比例）",
    ),
    (
        r"a formula never calculated in " + _COL + r": '(?P<value>.*)' has no saved result \(open and save the file "
        r"in Excel or WPS so the result is stored, or paste values\)",
        "{col}中的公式从未计算：'{value}' 没有保存结果（请在 Excel 或 WPS 中打开并保存文件以保存计算结果，或粘贴为数值）",
    ),
    (
        r"no figure in " + _COL + r": '(?P<value>.*)' stands for none \(write the figure, or 0 if there was none\)",
        "{col}没有数值：'{value}' 表示无数据（请填写数值；确实为零请填 0）",
    ),
    (r"not a whole number in " + _COL + r": (?P<value>.*)", "{col}不是整数：{value}"),
    (
        r"several months in " + _COL + r": '(?P<value>.*)' is a quarter, half year or year to date, not one month "
        r"\(send each month's own figures\)",
        "{col}是多个月份：'{value}' 为季度、半年或年初至今的合计，不是单月（请报送各月当月数）",
    ),
    (
        r"not a date in " + _COL + r": '(?P<value>.*)' \(no such month: months run from 1 to 12\)",
        "{col}不是日期：'{value}'（没有这个月份：月份为1至12）",
    ),
    (r"not a date in " + _COL + r": '(?P<value>.*)'", "{col}不是日期：'{value}'"),
    (r"not a yes/no value in " + _COL + r": '(?P<value>.*)'", "{col}不是“是/否”值：'{value}'"),
    (
        r"text too long in " + _COL + r": (?P<n>\d+) characters \(max (?P<max>\d+)\)",
        "{col}文本过长：{n}个字符（上限 {max}）",
    ),
    (
        r"number in scientific notation in " + _COL + r": '(?P<value>.*)' \(Excel dropped its digits: format the "
        r"column as text and send the file again\)",
        "{col}为科学计数法数字：'{value}'（Excel 已丢失其数位：请将该列设为文本格式后重新报送）",
    ),
    (
        r"formula-like text in " + _COL + r" \(possible spreadsheet injection\): '(?P<value>.*)'",
        "{col}含类似公式的文本（可能是电子表格注入）：'{value}'",
    ),
    (
        r"code and name disagree in " + _COL + r": (?P<code>\d{6}), but the name beside it is '(?P<value>.*)' "
        r"\((?P<other>\d{6})\): which unit the row is cannot be told \(correct the code or the name\)",
        "{col}的代码与名称不一致：代码为 {code}，旁边的名称却是“{value}”（{other}）：无法判断该行属于哪个单位（请更正代码或名称）",
    ),
    (r"unknown region code in " + _COL + r": '(?P<value>.*)'", "{col}中的行政区划代码未知：'{value}'"),
    (
        r"city name in " + _COL + r" names a province and a unit: '(?P<value>.*)' is province (?P<province>\d{6}) or "
        r"unit (?P<unit>\d{6}), and the file's other rows do not tell which \(write the unit's full name or its code; "
        r"a province's total is no city's record\)",
        "{col}中的名称既是省份又是单位：'{value}' 可指省份 {province} 或单位 {unit}，文件中其他行无法判明"
        "（单位请写全称或代码；省级合计不是城市的记录）",
    ),
    (
        r"unit in " + _COL + r" contradicts its sheet: '(?P<value>.*)' is (?P<code>\d{6}) of province "
        r"(?P<province>\d{6}), while sheet '(?P<sheet>.*)' is named for province (?P<sheet_province>\d{6}) \(move the "
        r"row to its province's sheet, or correct the unit\)",
        "{col}与所在工作表矛盾：'{value}' 是省份 {province} 的 {code}，而工作表“{sheet}”以省份 {sheet_province} 命名"
        "（请把该行移到其所在省的工作表，或更正单位）",
    ),
    (
        r"city name in " + _COL + r" names a unit of another province: '(?P<value>.*)' is (?P<code>\d{6}), while the "
        r"file's other rows lie in province (?P<province>\d{6}) and a district there bears this name \(write the "
        r"full name or the code\)",
        "{col}中的名称是外省的单位：'{value}' 为 {code}，而文件其他行均在省份 {province}，且该省有同名的区县"
        "（请写全称或代码）",
    ),
    (
        r"district name in " + _COL + r": '(?P<value>.*)' is a county-level area \((?P<codes>[\d, ]+)\), not a unit "
        r"of the programme \(report its figures on its city's row, or write the district's code\)",
        "{col}中是区县名称：'{value}' 为县级行政区（{codes}），不是项目单位（请将其数字并入所在城市的行报送，"
        "或填写该区县的代码）",
    ),
    (
        r"district row: '(?P<value>.*)' in the district column is a county-level area of (?P<city>\d{6}) "
        r"\((?P<codes>[\d, ]+)\), not a unit of the programme: its figures are part of the city's, not its record "
        r"\(report the city's figures on one row, or write the district's code\)",
        "区县行：区县列中的 '{value}' 为 {city} 的县级行政区（{codes}），不是项目单位：其数字是所在城市数字的一部分，"
        "不是该城市的记录（请将城市的数字填在一行中报送，或填写该区县的代码）",
    ),
    (
        r"district row: '(?P<value>.*)' in the district column names no county-level area of (?P<city>\d{6}): the row "
        r"is a part of the city's figures or a mistake, not the city's record \(report the city's figures on one "
        r"row, or write the district's code\)",
        "区县行：区县列中的 '{value}' 不是 {city} 的任何县级行政区：该行是城市数字的一部分或填写有误，不是该城市的记录"
        "（请将城市的数字填在一行中报送，或填写该区县的代码）",
    ),
    (
        r"total row: '(?P<value>.*)' in " + _COL + r" names a province and a unit, and its figures are the sum of the "
        r"file's other rows of province (?P<province>\d{6}) for the same (?P<period>\w+): the province's total, not "
        r"the unit's record",
        "合计行：{col}中的 '{value}' 既是省份又是单位，且其数字等于文件中省份 {province} 其他各行同期之和："
        "是全省合计，不是该单位的记录",
    ),
    (
        r"total sheet: sheet '(?P<sheet>.*)' sums the workbook's other sheets, its rows are no records",
        "合计工作表：工作表“{sheet}”是工作簿中其他工作表的合计，其各行不是记录",
    ),
    (
        r"part of a month in " + _COL + r": '(?P<value>.*)' covers some of the month's days, not the whole month "
        r"\(send the month's own figures\)",
        "{col}只覆盖月内部分日期：'{value}' 不是整月（请报送该月整月的数字）",
    ),
    (
        r"former name in " + _COL + r": '(?P<value>.*)' was the name of (?P<code>\d{6}) (?P<old>\S+) until "
        r"(?P<on>[\d-]+) \((?P<doc>.*)\), now (?P<new>\S+), and its district (?P<codes>[\d, ]+) bears it today: a "
        r"district's figures are no unit's \(write (?P<new2>\S+) or the code\)",
        "{col}中是旧名称：'{value}' 是 {code} {old} 在 {on} 之前的名称（{doc}），现为{new}，如今其辖区 {codes} 使用这一名称："
        "区县的数字不是单位的记录（请写“{new2}”或代码）",
    ),
    (
        r"former unit in " + _COL + r": '(?P<value>.*)' \((?P<code>\d{6}) (?P<old>\S+)\) was merged into "
        r"(?P<into>\d{6}) (?P<new>\S+) on (?P<on>[\d-]+) \((?P<doc>.*)\) and the row's period '(?P<period>.*)' is "
        r"after it: it is no unit then \(report its figures on (?P<new2>\S+)'s row\)",
        "{col}中是已撤并的单位：'{value}'（{code} {old}）已于 {on} 并入 {into} {new}（{doc}），该行期间“{period}”在此之后："
        "当时已不是单位（请将其数字并入“{new2}”的行报送）",
    ),
    (
        r"former unit in " + _COL + r": '(?P<value>.*)' \((?P<code>\d{6}) (?P<old>\S+)\) was merged into "
        r"(?P<into>\d{6}) (?P<new>\S+) on (?P<on>[\d-]+) \((?P<doc>.*)\) and the row's period '(?P<period>.*)' does "
        r"not tell whether before or after it \(write the code meant: (?P<c1>\d{6}) before, (?P<c2>\d{6}) after\)",
        "{col}中是已撤并的单位：'{value}'（{code} {old}）已于 {on} 并入 {into} {new}（{doc}），该行期间“{period}”"
        "无法判断在此之前还是之后（请填写所指的代码：之前为 {c1}，之后为 {c2}）",
    ),
    (
        r"abolished unit in " + _COL + r": '(?P<value>.*)' \((?P<code>\d{6}) (?P<old>\S+)\) was abolished on "
        r"(?P<on>[\d-]+) \((?P<doc>.*)\) and its area divided among other cities: no unit continues it \(report "
        r"each part on its city's row\)",
        "{col}中是已撤销的单位：'{value}'（{code} {old}）已于 {on} 撤销（{doc}），辖区分别划入其他城市：没有单位承继它"
        "（请将各部分的数字分别并入所在城市的行报送）",
    ),
    (
        r"unknown city name in "
        + _COL
        + r": '(?P<value>.*)' \(no unit of the administrative divisions has this name\)",
        "{col}中的城市名称未知：'{value}'（行政区划中没有这一名称的单位）",
    ),
    (
        r"city name in " + _COL + r" names several units: '(?P<value>.*)' \(write the code\)",
        "{col}中的城市名称对应多个单位：'{value}'（请填写代码）",
    ),
    (
        r"unknown " + _COL + r" '(?P<value>.*)' \(allowed: (?P<allowed>.*)\)",
        "{col}取值未知：'{value}'（允许：{allowed}）",
    ),
    (
        r"negative amount in parentheses in " + _COL + r": '(?P<value>.*)' \(accounting style for (?P<number>\S+): "
        r"\w+ cannot be negative\)",
        "{col}为括号表示的负数：'{value}'（会计记法，即 {number}；该列不能为负数）",
    ),
    (r"negative value in " + _COL + r": (?P<value>\S+) \(min (?P<min>\S+)\)", "{col}为负值：{value}（下限 {min}）"),
    (
        r"value below minimum in " + _COL + r": (?P<value>\S+) \(min (?P<min>\S+)\)",
        "{col}低于下限：{value}（下限 {min}）",
    ),
    (r"absurd value in " + _COL + r": (?P<value>\S+) \(max (?P<max>\S+)\)", "{col}数值超出上限：{value}（上限 {max}）"),
    (r"future date in " + _COL + r": (?P<value>.*)", "{col}为未来日期：{value}"),
    (
        _COL + r" (?P<value>\S+) outside partition year (?P<year>\d+)",
        "{col} {value} 不在本分区年份 {year} 内",
    ),
    (
        r"Excel error cell in " + _COL + r": '(?P<value>.*)' \(the formula failed: fix it in the workbook\)",
        "{col}为 Excel 错误单元格：'{value}'（公式计算失败：请在工作簿中修正）",
    ),
    (
        r"ambiguous month in " + _COL + r": '(?P<value>.*)' is (?P<y>\d{4})\.10 \(October, its 0 dropped by Excel\) "
        r"or \d{4}\.1 \(January\) - write the month as text \(\d{4}-10, \d{4}年10月\)",
        "月份有歧义（{col}）：'{value}' 可能是 {y}.10（10月，0 被 Excel 删去）或 {y}.1（1月）——"
        "请将月份写成文本（{y}-10、{y}年10月）",
    ),
    (
        r"ambiguous month in " + _COL + r": the number (?P<value>\S+) is (?P<y>\d{4})\.10 \(October\) or \S+ "
        r"\(January\) - write the month as text \(\d{4}-10, \d{4}年10月\)",
        "月份有歧义（{col}）：数字 {value} 可能是 {y}.10（10月）或 {value}（1月）——请将月份写成文本（{y}-10、{y}年10月）",
    ),
    (
        r"value merged over rows (?P<r1>\d+)–(?P<r2>\d+) in " + _COL + r": one figure for several records \(write "
        r"each row's own\)",
        "{col}的数值合并了第 {r1}–{r2} 行的单元格：一个数对应多条记录（请每行填写各自的数值）",
    ),
    # a share (validate._shares): the label is the indicator code for targets, else the column itself
    (
        r"not a share in " + _COL + r" for (?P<label>\S+): (?P<value>\S+) \(a share is 0–1: write 0\.941, 94\.1% or "
        r"use a \(%\) header\)",
        "{col}不是比例（{label}）：{value}（比例应为 0–1：写作 0.941、94.1% 或在表头注明 (%)）",
    ),
    (
        r"per cent out of range in " + _COL + r" for (?P<label>\S+): (?P<value>\S+)%",
        "{col}百分比超出范围（{label}）：{value}%",
    ),
    (r"per cent given in " + _COL + r" but (?P<label>\S+) is not a share", "{col}填写了百分比，但{label}不是比例指标"),
    # a record's values against each other, or against the unit's history
    (r"kind code (?P<kind>\S+) does not match patent type (?P<type>\S+)", "文献类型 {kind} 与专利类型 {type} 不符"),
    (_COL + r" before " + _COL2, "{col}早于{col2}"),
    (_COL + r" after " + _COL2, "{col}晚于{col2}"),
    (_COL + r" not after " + _COL2, "{col}不晚于{col2}"),
    (_COL + r" exceed " + _COL2, "{col}超过{col2}"),
    (
        r"implausible jump in " + _COL + r": (?P<value>\S+) is (?P<ratio>\S+)x this unit's median of its previous "
        r"(?P<n>\d+) months \((?P<median>\S+)\)",
        "{col}异常跳变：{value} 是该单位前{n}个月中位数（{median}）的 {ratio} 倍",
    ),
    (
        r"implausible " + _COL + r": (?P<ratio>\S+) (?P<ratio_label>.+) \(plausible (?P<bounds>.+)\)",
        "{col}不合理：{ratio} {ratio_label}（合理范围 {bounds}）",
    ),
    # the unit hint validate._unit_hint appends after "; "
    (r"looks like (?P<unit>\S+), not (?P<stored>\S+)", "看起来单位是{unit}，而不是{stored}"),
    # quality.rejections_summary's stand-in for a row without a reason
    (r"no reason given", "未给出原因"),
    # the advice validate._own_unit_advice appends after "; " to a county-level programme unit's breakdown row
    (
        r"(?P<code>\d{6}) is a programme unit of its own, so its figures are not loaded for it either: send its row "
        r"as a record \(no 其中 label\) and the row of (?P<city>.*?) without its figures \(the marts add a "
        r"county-level unit's rows into its city\)",
        "{code} 本身是强市建设单位，因此其数字也未为其载入：请将它的行作为单独一条记录报送（不写“其中”），"
        "并报送不含其数字的 {city} 行（数据集市会把县级单位的行计入其所在城市）",
    ),
    # the ledger's notes on a loaded file (readers/validate/load/contract_sql ``notes``, "; "-joined as its message):
    # how it was read, what was set aside or converted. "{onsheet}": the sheet a note names in a workbook of several
    (r"skipped " + _N + r" title row" + _S + r" above the header" + _ONSHEET, "跳过表头上方的{n}行标题{onsheet}"),
    (r"joined a two-row header", "两行表头已合并为一行"),
    (r"tab-separated", "以制表符分隔"),
    (r"semicolon-separated", "以分号分隔"),
    (r"bar-separated", "以竖线（|）分隔"),
    (r"decoded from (?P<encoding>\S+)", "按 {encoding} 编码解码"),
    (
        r"corrected " + _N + r" row" + _S + r" loaded earlier from (?P<files>.*?): (?P<keys>.*)",
        "更正了此前由 {files} 载入的{n}行：{keys}",
    ),
    (
        r"the file is (?P<filekind>an Excel workbook|a Parquet file|an Excel 97-2003 workbook|a web page \(HTML table\)|"
        r"an Excel 2003 XML spreadsheet|a text table) \(named (?P<suffix>\S+)\): read as one",
        "该文件实为{filekind}（扩展名为 {suffix}）：已按其实际格式读取",
    ),
    (
        r"formula cell" + _LS + r" without a saved value: (?P<cells>.*?)" + _ONSHEET + r" - refused; open and save the "
        r"workbook in Excel \(or paste values\) so the results are stored",
        "公式单元格没有保存计算结果：{cells}{onsheet}——相应的行已拒收；请在 Excel 中打开并保存工作簿（或粘贴为数值），"
        "使计算结果得以保存",
    ),
    (
        r"(?P<hidden>(?:row" + _LS + r" .*?|column" + _LS + r" .*?)(?: and column" + _LS + r" .*?)?) hidden in the "
        r"workbook: read as well "
        r"\(whoever opens the file does not see them; check they are no scratch or old rows\)" + _ONSHEET,
        "工作簿中隐藏的{hidden}{onsheet}：同样已读取（打开文件的人看不到这些内容；请确认不是草稿行或旧数据行）",
    ),
    (
        r"read "
        + _N
        + r" date"
        + _S
        + r" written as serial numbers in the workbook's 1904 date system \(Excel for Mac, "
        r"WPS: day 0 is 1904-01-01\)" + _ONSHEET,
        "{n}个以序列号书写的日期已按工作簿的 1904 日期系统读取（Mac 版 Excel、WPS：第 0 天为 1904-01-01）{onsheet}",
    ),
    (
        r"filled " + _N + r" merged cell range" + _S + r" down their rows" + _ONSHEET,
        "{n}处合并单元格已向下填充到各行{onsheet}",
    ),
    (
        r"skipped " + _N + r" empty row" + _S + r" holding only a row number \(序号\)" + _ONSHEET,
        "跳过{n}行只有序号的空行{onsheet}",
    ),
    (
        r"no month column: every row is (?P<month>\S+), the month (?P<src>the title above the table|the file name) "
        r"states" + _ONSHEET,
        "没有月份列：各行均按{src}所示月份 {month} 读取{onsheet}",
    ),
    (
        r"sheet '(?P<sheet>.*)' is hidden in the workbook: its " + _N + r" row" + _S + r" (?:was|were) read as well",
        "工作表“{sheet}”在工作簿中处于隐藏状态：其{n}行同样已读取",
    ),
    (r"read " + _N + r" sheet" + _S + r": (?P<sheetrows>.*)", "读取了{n}个工作表：{sheetrows}"),
    (r"skipped sheet" + _LS + r": (?P<skipped>.*)", "跳过的工作表：{skipped}"),
    (
        r"column (?P<header>.*): number format shows the stored value x(?P<factor>\S+); read as shown",
        "列 {header}：数字格式显示的是存储值的 {factor} 倍；按显示值读取",
    ),
    (
        r"lines ended by CR alone \(old Mac line ends\): read as line breaks",
        "行尾只有 CR（旧式 Mac 换行符）：已按换行读取",
    ),
    (
        r"pivot table"
        + _LS
        + r" (?P<ranges>.*) beside the table not read \(a pivot table sums other rows\)"
        + _ONSHEET,
        "表格旁的数据透视表 {ranges} 未读取（数据透视表是其他行的汇总）{onsheet}",
    ),
    (
        r"cell" + _LS + r" far to the right of the table, after " + _N + r" empty columns?: (?P<cells>.*) - not read "
        r"as the table's" + _ONSHEET,
        "表格右侧很远处（隔了{n}个空列）的单元格：{cells}——不属于表格，未读取{onsheet}",
    ),
    (
        r"lines ended by CR alone among lines ended by LF or CRLF: each read as a line break",
        "部分行尾只有 CR，其余行尾为 LF 或 CRLF：均已按换行读取",
    ),
    (
        r"an end-of-file mark \(Ctrl-Z, 0x1A\) after the last line: not a row",
        "最后一行之后有文件结束符（Ctrl-Z，0x1A）：不是数据行",
    ),
    (r"truncated last row \(" + _N + r" of (?P<m>\d+) fields\)", "最后一行不完整（{m}个字段中只有{n}个）"),
    (
        r"converted " + _COL + r" from (?P<unit>\S+) \(单位：(?P=unit) (?P<place>in a note below the table|above the "
        r"table)\) \(x(?P<factor>\S+)\)",
        "{col}已由{unit}换算（{place}注明“单位：{unit}”）（×{factor}）",
    ),
    (r"converted " + _COL + r" from another unit \(x(?P<factor>\S+)\)", "{col}已由其他单位换算（×{factor}）"),
    (
        _COL + r" read from the unit names in '(?P<header>.*)' \(no code column\)",
        "{col}由“{header}”列中的单位名称读出（没有代码列）",
    ),
    (r"ignored extra column" + _LS + r": (?P<list>.*)", "未使用的多余列：{list}"),
    (
        r"'(?P<header>.*)' read as the rows' districts \(each row a district's figures, not its city's\)",
        "已将“{header}”列读作各行所属区县（每行为该区县的数字，而非所在城市的数字）",
    ),
    (
        r"filled "
        + _COL
        + r" of "
        + _N
        + r" row"
        + _S
        + r" from the row above: a city cell merged over its districts, left "
        r"blank below its first row \(each row's district is in that city\)",
        "已按上一行补全{n}行的{col}：城市单元格在其各区县行上合并，导出后首行以下为空（各行的区县均属该城市）",
    ),
    (
        r"read the row of (?P<city>\d{6}) and district '(?P<value>.*)' as the unit (?P<code>\d{6}) \(the district\)",
        "{city} 与区县 '{value}' 所在行按单位 {code}（该区县）读取",
    ),
    (
        r"city and county-level rows in two files: (?P<pairs>.*?)(?: and (?P<more>\d+) more)? \(this file and "
        r"(?P<others>.*)\): the marts add a county-level unit's rows into its city, so if the city's row includes "
        r"them they count twice \(send the city's row without them, or one of the two\)",
        "城市与其县级单位的行分别在两个文件中：{pairs}{more}（本文件与 {others}）：数据集市会把县级单位的行计入其所在"
        "城市，若城市的行已包含这些数字，就会重复计算（请报送不含这些数字的城市行，或只报送其中之一）",
    ),
    (
        r"month cells without a year read in (?P<year>\d{4}) \(stated by the file\)",
        "未写年份的月份单元格按 {year} 年读取（文件中注明的年份）",
    ),
    (
        r"two-digit years in month \('(?P<yy>\d{2})年'\) read as (?P<year>\d{4}) \(stated by the file\)",
        "月份中的两位年份（'{yy}年'）按 {year} 年读取（文件中注明的年份）",
    ),
    (
        r"months written in English \(Mar-25: Excel's mmm-yy as shown\) read as the month they name, a two-digit "
        r"year as Excel reads it \(00-29: 2000-2029\)",
        "英文书写的月份（Mar-25：Excel 按 mmm-yy 格式显示的样子）按其所指月份读取，两位年份按 Excel 的规则读取"
        "（00-29 即 2000-2029 年）",
    ),
    (
        r"read " + _N + r" cell" + _S + r" of " + _COL + r" written with their unit \(100万元, 1\.2亿\) in that unit",
        "{col}中有{n}个单元格带单位书写（100万元、1.2亿），已按所写单位读取",
    ),
    (
        r"read " + _N + r" cell" + _S + r" of " + _COL + r" with a footnote marker \(12\.5\*, 12\.5①\) as the number "
        r"before it",
        "{col}中有{n}个单元格带脚注标记（12.5*、12.5①），按标记前的数字读取",
    ),
    (
        r"read " + _N + r" cell" + _S + r" of " + _COL + r" written in 万 or 千 \(1\.2万 = 12000\) as the count",
        "{col}中有{n}个单元格以万或千书写（1.2万 = 12000），按其数量读取",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the province (?P<code>\d{6}): the file's other rows are units in it",
        "{col}中的 '{value}' 按省份 {code} 读取：文件其他行均为该省的单位",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the (?P<unitkind>unit|province) (?P<code>\d{6}): its "
        r"sheet '(?P<sheet>.*)' names the province",
        "{col}中的 '{value}' 按{unitkind} {code} 读取：所在工作表“{sheet}”已注明省份",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the unit (?P<code>\d{6}): the file's other rows are units of its "
        r"province",
        "{col}中的 '{value}' 按单位 {code} 读取：文件其他行均为其所在省的单位",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the unit (?P<code>\d{6}): the file's other rows lie in its "
        r"province, where no other unit bears this name",
        "{col}中的 '{value}' 按单位 {code} 读取：文件其他行均位于该单位所在省，且该省没有其他同名单位",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the unit (?P<code>\d{6}): (?P<old>\S+) was renamed (?P<new>\S+) "
        r"on (?P<on>[\d-]+) \((?P<doc>.*)\)",
        "{col}中的旧名称 '{value}' 按单位 {code} 读取：{old}已于 {on} 更名为{new}（{doc}）",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the unit (?P<code>\d{6}): (?P<old>\S+) existed until "
        r"(?P<on>[\d-]+) \((?P<doc>.*)\)",
        "{col}中的 '{value}' 按单位 {code} 读取：{old}在 {on} 之前仍是单位（{doc}）",
    ),
    (
        r"read '(?P<value>.*)' in " + _COL + r" as the unit (?P<code>\d{6}): the county-level area of this name",
        "{col}中的 '{value}' 按单位 {code} 读取：即该名称所指的县级区划",
    ),
    (
        _COL + r" derived from (?P<cols>\w+(?:, \w+)*) \(the file has no (?P<header>\S+) column\)",
        "文件没有“{header}”列：{col}由 {cols} 生成",
    ),
    (
        r"no city column: read "
        + _N
        + r" caption row"
        + _S
        + r" naming a city \((?P<names>.*)\) as the city of the rows "
        r"below each" + _ONSHEET,
        "没有城市列：{n}行标注城市的分块标题（{names}）按其下各行所属的城市读取{onsheet}",
    ),
    (
        r"no city column: every row of sheet '(?P<sheet>.*)' is the unit the sheet's name names",
        "没有城市列：工作表“{sheet}”的各行均按表名所指的单位读取",
    ),
    (
        r"read " + _N + r" cell" + _S + r" written as no figure \(—, -, /, 无\) in " + _COL + r" as empty",
        "{col}中有{n}个单元格写作无数据（—、-、/、无），按空值读取",
    ),
    (
        r"refused "
        + _N
        + r" breakdown row"
        + _S
        + r" \(其中, of which\) as parts of the row above them: the stated rows are "
        r"loaded, their parts are not added to them",
        "{n}行分项（其中）作为其上一行的组成部分未入库：所报的总数行已载入，其分项不再重复相加",
    ),
)
_COMPILED = tuple((re.compile(pattern), template) for pattern, template in _PATTERNS)


@cache
def _chinese_headers(source: str | None) -> dict[str, str]:
    """Contract column name -> its Chinese header; a named source's own headers win over other sources'."""
    names: dict[str, str] = {}
    ordered = [s for s in SOURCES.values() if s.name != source] + ([SOURCES[source]] if source in SOURCES else [])
    for s in ordered:
        for c in s.columns:
            chinese = next((a for a in c.aliases if _CJK.search(a)), None)
            if chinese:
                names[c.name] = chinese
    return names


def column_label(column: str, source: str | None = None) -> str:
    """A contract column by its Chinese header (城市代码 for city_code); a name without one as written."""
    return _chinese_headers(source).get(column, column)


# One row a conflict reason names ("row 7", "row 3 of sheet '汇总'"), then ", " before the next or the count of
# rows left unnamed at the end (validate.repeated_key_reasons).
_NAMED_ROW = re.compile(
    r"row (?P<row>\d+)(?: of (?P<hidden>hidden )?sheet '(?P<sheet>.*?)')?(?:, (?=row \d)| and (?P<more>\d+) more rows$|$)"
)


def _rows_zh(text: str) -> str:
    """The rows a conflict reason names, in Chinese (第 7 行、工作表“汇总”第 3 行及另外 12 行); as written when the list
    cannot be read."""
    names, more, pos = [], None, 0
    while pos < len(text):
        m = _NAMED_ROW.match(text, pos)
        if m is None:
            return text
        kind = "隐藏工作表" if m["hidden"] else "工作表"
        names.append(f"{kind}“{m['sheet']}”第 {m['row']} 行" if m["sheet"] is not None else f"第 {m['row']} 行")
        more, pos = m["more"], m.end()
    return "、".join(names) + (f"及另外{more}行" if more else "")


# validate.map_headers' list of missing columns: "city_code (or 城市代码 / 地市代码); month (or 月份 / 统计月份)"
_MISSING = re.compile(r"(?P<col>\w+)(?: \(or (?P<aliases>.*?)\))?(?:; |$)")
# readers._refuse_spanned_headers: "header '登记笔数' spans sub-columns '本年累计', '本月'", joined by " and "
_SPAN = re.compile(r"header '(?P<header>.*?)' spans sub-columns (?P<labels>'.*?'(?:, '.*?')*)(?= and header '|$)")
# readers' sheet statuses, as "workbook has no data sheet" lists them ("说明: skipped: instructions, 1月: ...")
_SHEET_STATUS = {
    "read": "已读取",
    "skipped: instructions": "已跳过：填表说明",
    "skipped: no cells": "已跳过：没有单元格",
    "skipped: empty": "已跳过：空表",
    "skipped: hidden sheet without a header": "已跳过：无表头的隐藏工作表",
    "skipped: pivot table": "已跳过：数据透视表",
}
_SHEET_STATUS_RE = re.compile(
    r"(?P<sheet>[^,]*?): (?P<status>"
    + "|".join(re.escape(k) for k in sorted(_SHEET_STATUS, key=len, reverse=True))
    + ")"
)


_KINDS_ZH = {
    "an Excel workbook": " Excel 工作簿",
    "a Parquet file": " Parquet 文件",
    "an Excel 97-2003 workbook": " Excel 97-2003 工作簿",
    "a web page (HTML table)": "网页（HTML 表格）",
    "an Excel 2003 XML spreadsheet": " Excel 2003 XML 电子表格",
    "a text table": "文本表格",
}
_HIDDEN_ROWS = re.compile(
    r"rows?(?:\(s\))? (?P<rows>[\d, ]+?)(?: and (?P<more>\d+) more)?(?P<filtered> \(hidden or filtered out\))?$"
)
_HIDDEN_COL = re.compile(r"(?P<letter>[A-Z]+) \('(?P<header>.*?)'\)(?:, |$)")


def _hidden_zh(text: str) -> str:
    """readers.hidden_note's rows and columns in Chinese (第 2、5 行及另外 3 行（隐藏或被筛选掉）和 C 列（“备注”））."""
    out = []
    # "rows 2, 5 and columns C ('备注')" (noun_en's nouns; older ledger rows "row(s)" / "column(s)")
    for part in re.split(r" and (?=columns? |column\(s\) )", text):
        if part.startswith(("row ", "rows ", "row(s) ")):
            m = _HIDDEN_ROWS.match(part)
            if m is None:
                return text
            out.append(
                "第 "
                + "、".join(m["rows"].split(", "))
                + " 行"
                + (f"及另外{m['more']}行" if m["more"] else "")
                + ("（隐藏或被筛选掉）" if m["filtered"] else "")
            )
        else:
            listed = re.sub(r"^columns?(?:\(s\))? ", "", part)
            cols = [f"{c['letter']} 列（“{c['header']}”）" for c in _HIDDEN_COL.finditer(listed)]
            out.append("、".join(cols) if cols else part)
    return "和".join(out)


def _missing_zh(text: str, source: str | None) -> str:
    """The missing required columns by their Chinese headers, each with the other headers it may have."""
    out = []
    for m in _MISSING.finditer(text):
        if not m.group(0):
            continue
        label = column_label(m["col"], source)
        out.append(f"{label}（也可写作 {m['aliases']}）" if m["aliases"] else label)
    return "；".join(out) if out else text


def _one_reason(reason: str, source: str | None) -> str | None:
    """One English reason in Chinese, or None when no pattern knows it."""
    text = reason.strip()
    for pattern, template in _COMPILED:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        groups = {
            k: "、".join(column_label(c, source) for c in v.split(", "))
            if k == "cols"
            else column_label(v, source)
            if k.startswith("col")
            else _rows_zh(v)
            if k == "rows"
            else _ratio_labels().get(v, v)
            if k == "ratio_label"
            else v
            for k, v in m.groupdict().items()
        }
        if "level" in groups:
            groups["level"] = "全国" if groups["level"] == "national" else "省级"
        if "where" in groups:
            groups["where"] = "表格下方的备注" if groups["where"].startswith("note") else "表格上方的单位行"
        if "origin" in groups:
            groups["origin"] = "表格上方的标题" if groups["origin"].startswith("title") else "文件名"
        if "onsheet" in groups:
            groups["onsheet"] = f"（工作表“{m['onsheet'][8:-1]}”）" if m["onsheet"] else ""
        if "label" in groups and "stated" in groups and groups["label"].startswith("indented "):
            groups["label"] = "缩进的" + groups["label"][len("indented ") :]
        if "sheetrows" in groups:
            groups["sheetrows"] = re.sub(r" \((\d[\d,]*) rows?\)(?=, |$)", r"（\1行）", groups["sheetrows"])
        if "skipped" in groups:
            groups["skipped"] = re.sub(
                r" \((instructions|no cells|empty|hidden sheet without a header|pivot table)\)(?=, |$)",
                lambda s: f"（{_SHEET_STATUS['skipped: ' + s[1]].removeprefix('已跳过：')}）",
                groups["skipped"],
            )
        if "more" in groups and "pairs" in groups:
            groups["more"] = f"及另外 {groups['more']} 对" if groups["more"] else ""
        if "place" in groups:
            groups["place"] = "表格下方的备注中" if groups["place"].startswith("in a note") else "表格上方"
        if "unitkind" in groups:
            groups["unitkind"] = "单位" if groups["unitkind"] == "unit" else "省份"
        if "src" in groups:
            groups["src"] = "表格上方标题" if groups["src"].startswith("the title") else "文件名"
        if "filekind" in groups:
            groups["filekind"] = _KINDS_ZH[groups["filekind"]]
        if "hidden" in groups:
            groups["hidden"] = _hidden_zh(groups["hidden"])
        if "missing" in groups:
            groups["missing"] = _missing_zh(m["missing"], source)
        if "spans" in groups:
            spans = _SPAN.sub(lambda s: f"表头“{s['header']}”跨越子列 {s['labels']}", m["spans"])
            groups["spans"] = spans.replace(" and 表头", "；表头")
        if "sheets" in groups and "no data sheet" in text:
            groups["sheets"] = _SHEET_STATUS_RE.sub(
                lambda s: f"{s['sheet']}：{_SHEET_STATUS[s['status']]}", m["sheets"]
            )
        return template.format(**groups)
    return None


def _translated_pieces(reason: str, source: str | None) -> list[tuple[str, str | None]]:
    """The reason cut into its "; "-joined reasons, each with its Chinese text (None: unknown). A quoted value
    may itself hold "; ", so a piece no pattern knows is tried together with the pieces after it."""
    pieces = [p for p in reason.split(REASON_SEPARATOR) if p.strip()]
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(pieces):
        for j in range(i + 1, len(pieces) + 1):
            english = REASON_SEPARATOR.join(pieces[i:j])
            chinese = _one_reason(english, source)
            if chinese is not None:
                out.append((english, chinese))
                i = j
                break
        else:
            out.append((pieces[i], None))
            i += 1
    return out


def reason_text(reason: str | None, source: str | None, lang: str) -> str:
    """A loader reason for display: as written for 'en'; for 'zh' each of its "; "-joined reasons in Chinese,
    joined by '；'. A reason no pattern knows stays in English: never an error, never a guess."""
    if reason is None:
        return ""
    if lang != "zh":
        return reason
    return ZH_SEPARATOR.join(chinese or english.strip() for english, chinese in _translated_pieces(reason, source))


def refusal_text(reason: str | None, lang: str, source: str | None = None) -> str:
    """Why a whole file was refused (the ledger's message of a 'failed' file), for display: as written for 'en';
    for 'zh' the reason's Chinese text. A refusal is one reason that may hold "; " of its own, so it is matched
    whole first; otherwise read as the loader's "; "-joined reasons, a piece no pattern knows staying English."""
    if reason is None:
        return ""
    if lang != "zh":
        return reason
    whole = _one_reason(reason, source)
    return whole if whole is not None else reason_text(reason, source, lang)


def refusal_both(reason: str | None, source: str | None = None) -> str:
    """A refusal in 简体中文 with the English below it (the CLI and an engineer's alert show both); the English
    alone when no Chinese text is known."""
    zh, en = refusal_text(reason, "zh", source), refusal_text(reason, "en", source)
    return en if zh == en else f"{zh}\n{en}"


def unknown_refusal(reason: str) -> bool:
    """Whether a whole-file refusal has no Chinese text of its own (the tests' completeness check)."""
    return _one_reason(reason, None) is None


def unknown_reasons(reason: str) -> list[str]:
    """The pieces of ``reason`` that have no Chinese text (the tests' completeness check)."""
    return [english for english, chinese in _translated_pieces(reason, None) if chinese is None]


def notes_both(message: str | None, source: str | None = None) -> str:
    """A loaded file's ledger notes (its "; "-joined message: how it was read, what was set aside) in 简体中文 with
    the English below, as a refusal reads (refusal_both); the English alone when no note has a Chinese text."""
    if not message:
        return ""
    zh = reason_text(message, source, "zh")
    return message if zh == message else f"{zh}\n{message}"
