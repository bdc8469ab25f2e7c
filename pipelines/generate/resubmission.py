"""A province office's late resubmission (补报) with typical mistakes, for the default sample only.

The bundled sample is otherwise clean, which would leave the quarantine, the data-quality page and the
row accounting without anything to show. This file carries two good rows (district-coded reports, which
count for their prefecture) and five rows with mistakes offices really make. They are quarantined with
their reasons; the good rows load. It is written only when asked (`ipcity generate` does by default).
"""

from __future__ import annotations

from pathlib import Path

HEADER = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


def resubmission_rows(year: int) -> list[str]:
    return [
        f"440304,{year}-12,3,860,5,1,3,1",  # good: 深圳市福田区 reporting for itself
        f"330106,{year}-12,2,410.5,3,0,2,1",  # good: 杭州市西湖区
        f"440300,{year}-06,9,2100,12,2,8,3",  # already in the monthly file: duplicate
        f"999999,{year}-11,4,300,4,0,3,1",  # no such region code
        f"440100,{year}-11,-2,300,4,0,3,1",  # negative count
        f'320500,{year}-11,4,"12,5O0",4,0,3,1',  # letter O typed for a zero
        f"420100,{year}-13,4,300,4,0,3,1",  # month 13
    ]


def write_resubmission(landing_dir: Path, year: int) -> tuple[Path, int]:
    path = Path(landing_dir) / "pledge_loans" / f"pledge_loans_{year}_补报.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = resubmission_rows(year)
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("gbk"))
    return path, len(rows)
