import pytest
from test_ingest_loaders import PLEDGE, TODAY, _write
from pipelines.ingest.load import ingest_file

CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"
CASES = {
    "trailing_total": [CODES, "440300,2025-03,3,30,2,0,2,0", "440100,2025-03,1,10,1,0,1,0", ",,4,40,3,0,3,0"],
    "repeated_header": [CODES, "440300,2025-03,3,30,2,0,2,0", CODES, "440100,2025-03,1,10,1,0,1,0"],
    "linebreak_name": ["地区,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数", '"深\n圳",2025-03,3,30,2,0,2,0', '"广州\n市",2025-03,1,10,1,0,1,0'],
    "units_in_cells": [CODES, "440300,2025-03,12笔,3.5亿,2,0,2,0", "440100,2025-03,1,10万元,1,0,1,0", "440200,2025-03,1,100000元,1,0,1,0"],
    "sci": [CODES, "440300,2025-03,3,1.2E+05,2,0,2,0", "440100,2025-03,1.2E+01,10,1,0,1,0"],
    "qianyuan": ["城市代码,月份,登记笔数,质押金额(千元),质押专利数,质押商标数,服务企业数,首贷企业数", "440300,2025-03,3,1200,2,0,2,0"],
    "yuan": ["城市代码,月份,登记笔数,质押金额(元),质押专利数,质押商标数,服务企业数,首贷企业数", "440300,2025-03,3,1200000,2,0,2,0"],
    "yy": [CODES, "440300,25年3月,3,30,2,0,2,0"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_probe(warehouse, tmp_path, case):
    try:
        r = ingest_file(warehouse, PLEDGE, _write(tmp_path / "质押_2025年3月.csv", "\n".join(CASES[case]) + "\n"), partition=2025, today=TODAY)
        print("\nCASE", case, r.rows_loaded, r.rows_rejected, r.notes)
    except Exception as e:
        print("\nCASE", case, "REFUSED", e)
    print(warehouse.execute("select city_code, registrations, amount_10k_yuan from raw.pledge_loans").fetchall())
    print(warehouse.execute("select row_number, reason from raw.rejected_rows").fetchall())
