"""Small vocabularies combined into plausible Chinese applicant names, IPC symbols and training titles.

Everything here is SYNTHETIC: names are assembled from common words and do not denote real entities.
"""

from __future__ import annotations

BRANDS = (
    "恒瑞 华创 中科 天成 鼎信 博源 瑞泰 宏达 新宇 金桥 远航 精工 众合 汇智 联创 海纳 长青 华兴 东方 盛世 "
    "三元 国泰 九州 明德 启航 正泰 睿思 科达 万通 卓越 嘉禾 同创 凯瑞 龙腾 蓝海 星辰 智远 华信 永新 安泰 "
    "德润 恒通 云帆 中天 鑫源 泰和 信达 银河 朗润 宇航"
).split()
INDUSTRIES = (
    "科技 电子 智能装备 新材料 生物医药 机械制造 光电 信息技术 汽车零部件 化工 精密仪器 环保科技 "
    "食品 纺织 家居 通信技术 新能源 医疗器械 半导体 软件"
).split()
COMPANY_SUFFIXES = ("有限公司", "股份有限公司")
UNIVERSITY_SUFFIXES = ("大学", "理工大学", "科技大学", "工业大学", "师范大学", "职业技术学院", "医科大学", "农业大学")
INSTITUTE_SUFFIXES = (
    "先进制造研究院",
    "产业技术研究院",
    "工业技术研究院",
    "农业科学院",
    "新材料研究所",
    "生物技术研究所",
)
OTHER_SUFFIXES = ("市第一人民医院", "供电公司", "市中心医院", "市疾病预防控制中心", "市质量技术监督检验所")
SURNAMES = "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹".split()
GIVEN_NAMES = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 建华 志强 海燕 文 斌 辉 鹏 华 "
    "晓东 建国 国强 红梅 春生 立新 永刚 卫东 丽娟 子涵 浩然 雨萱 俊杰 欣怡 宇轩 思远 佳琪 晨曦 博文 一鸣"
).split()

# Main IPC subclasses with a rough share of Chinese invention/utility-model grants; the flag says whether the
# subclass counts as a strategic emerging industry (one of the five high-value criteria).
IPC_SUBCLASSES = (
    ("G06F", 7, True),
    ("G06N", 3, True),
    ("G06Q", 2, True),
    ("G06T", 3, True),
    ("G06V", 2, True),
    ("H04L", 5, True),
    ("H04W", 3, True),
    ("H04N", 2, True),
    ("H01L", 3, True),
    ("H01M", 3, True),
    ("H02J", 2, True),
    ("G01N", 5, False),
    ("G01R", 2, False),
    ("G01B", 1, False),
    ("G05B", 2, True),
    ("A61K", 4, True),
    ("A61B", 2, True),
    ("A61P", 1, True),
    ("C12N", 1, True),
    ("C07D", 1, False),
    ("C08L", 2, False),
    ("C04B", 2, False),
    ("C02F", 2, True),
    ("B01D", 3, False),
    ("B01J", 2, False),
    ("B23K", 3, False),
    ("B23P", 2, False),
    ("B65G", 3, False),
    ("B65D", 2, False),
    ("B21D", 2, False),
    ("B29C", 2, False),
    ("B33Y", 1, True),
    ("B60L", 1, True),
    ("B62D", 1, False),
    ("E04B", 1, False),
    ("E21B", 1, False),
    ("F16K", 2, False),
    ("F16L", 1, False),
    ("F24F", 1, False),
    ("F26B", 1, False),
    ("A01G", 1, False),
    ("A23L", 2, False),
    ("A47J", 1, False),
    ("D06F", 1, False),
    ("H02K", 2, True),
)
IPC_GROUPS = ("1", "3", "5", "7", "9", "11", "15", "17", "21", "27", "31", "33", "35", "40", "43", "50")
IPC_SUBGROUPS = (
    "00",
    "02",
    "04",
    "06",
    "08",
    "10",
    "12",
    "14",
    "16",
    "18",
    "20",
    "22",
    "24",
    "26",
    "28",
    "30",
    "32",
    "34",
    "36",
    "40",
)
# Locarno classes for designs (class-subclass), weighted roughly by volume.
LOCARNO = (
    ("06-01", 4),
    ("14-03", 4),
    ("09-01", 3),
    ("02-02", 3),
    ("07-02", 3),
    ("13-03", 2),
    ("12-16", 2),
    ("26-05", 2),
    ("23-04", 2),
    ("11-01", 1),
    ("10-04", 1),
    ("08-08", 1),
    ("15-99", 1),
    ("24-01", 1),
)

TRAINING_TITLES = {
    "officials": (
        "领导干部知识产权专题培训班",
        "知识产权行政执法业务培训",
        "知识产权强市建设工作培训会",
        "知识产权统计监测业务培训",
    ),
    "enterprises": (
        "企业知识产权合规管理(GB/T 29490)贯标培训",
        "专利挖掘与布局实务培训",
        "知识产权质押融资政策宣讲会",
        "海外知识产权纠纷应对指导培训",
        "高价值专利培育实务研讨",
    ),
    "service_agencies": ("专利代理实务能力提升培训", "知识产权评估与运营培训", "知识产权服务机构从业人员培训"),
    "schools": ("中小学知识产权普及教育活动", "高校知识产权信息利用讲座", "青少年创新与专利知识讲座"),
    "public": ("4·26知识产权宣传周主题活动", "知识产权保护进社区宣传活动", "打击侵权假冒宣传咨询活动"),
}
