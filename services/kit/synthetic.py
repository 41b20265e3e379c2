"""Realistic synthetic Yanbian units for demos, tests and benchmarks (no real person or firm).

Every unit is a pure function of `(seed, index)`: unit 123 of seed 7 is the same in a full snapshot,
in a later delta and in credit's demo data, without keeping state. Codes are valid (USCC with both
check characters, citizen ids with their check digit), region codes are the eight county-level
divisions of Yanbian, industry codes are GB/T 4754-2017 classes with the fire-sensitive ones
(hotels, catering, entertainment, warehouses, hospitals, schools, bath houses, shops) well represented.

Fast by design (> 100k units/s on one core): one BLAKE2b digest per unit supplies all random
choices, and the check characters are computed from precomputed partial sums.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from services.kit.ids import USCC_CHARSET

# (region code, name, short name, 街道/乡镇, roads)
COUNTIES: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("222401", "延吉市", "延吉",
     ("进学街道", "北山街道", "新兴街道", "公园街道", "建工街道", "河南街道", "朝阳川镇", "依兰镇"),
     ("光明街", "局子街", "参花街", "友谊路", "人民路", "长白路", "延边大学路", "天池路", "太平街",
      "新华街")),
    ("222402", "图们市", "图们", ("向上街道", "新华街道", "月宫街道", "石岘镇", "凉水镇"),
     ("口岸大街", "滨江路", "新华路", "长安路", "图们江路")),
    ("222403", "敦化市", "敦化", ("胜利街道", "民主街道", "丹江街道", "渤海街道", "江南镇", "秋梨沟镇"),
     ("翰章北街", "敖东大街", "亚光街", "胜利街", "民主街", "渤海街")),
    ("222404", "珲春市", "珲春", ("新安街道", "靖和街道", "近海街道", "河南街道", "春化镇", "敬信镇"),
     ("珲春街", "新安街", "口岸路", "森林山大路", "龙源街")),
    ("222405", "龙井市", "龙井", ("安民街道", "龙门街道", "东盛涌镇", "老头沟镇"),
     ("龙井大街", "新安街", "海兰路", "六道街")),
    ("222406", "和龙市", "和龙", ("文化街道", "民惠街道", "光明街道", "八家子镇", "南坪镇"),
     ("文化街", "青年路", "和平街", "光明街")),
    ("222424", "汪清县", "汪清", ("汪清镇", "大兴沟镇", "天桥岭镇", "罗子沟镇", "百草沟镇"),
     ("长荣路", "新民街", "汪清大街", "通达路")),
    ("222426", "安图县", "安图", ("明月镇", "松江镇", "二道白河镇", "万宝镇", "亮兵镇"),
     ("明月路", "长白山大街", "松江路", "白河路")),
)
COUNTY_WEIGHTS = (34, 7, 17, 12, 8, 6, 7, 9)  # roughly by number of market entities

# GB/T 4754-2017 class codes: (code, Chinese words used in names, business scope, weight)
INDUSTRIES: tuple[tuple[str, str, str, int], ...] = (
    ("H6110", "酒店", "住宿服务；餐饮服务；会议服务", 3),
    ("H6121", "宾馆", "住宿服务", 4),
    ("H6190", "旅店", "住宿服务（不含民宿以外的其他服务）", 2),
    ("H6210", "饭店", "餐饮服务；食品销售", 9),
    ("H6220", "快餐店", "餐饮服务", 5),
    ("H6231", "茶馆", "茶饮服务", 1),
    ("H6241", "烧烤店", "餐饮服务；酒类经营", 4),
    ("R9011", "KTV", "歌舞娱乐活动；酒类经营", 2),
    ("R9013", "网吧", "互联网上网服务", 1),
    ("R9019", "娱乐城", "游艺娱乐活动", 1),
    ("G5920", "仓储", "普通货物仓储服务", 2),
    ("G5942", "危险化学品仓储", "危险化学品仓储（凭许可证经营）", 1),
    ("G5951", "粮食仓储", "谷物仓储", 1),
    ("Q8411", "医院", "综合医疗服务", 1),
    ("Q8414", "朝医医院", "民族医医疗服务", 1),
    ("Q8421", "社区卫生服务中心", "基本医疗卫生服务", 1),
    ("P8310", "幼儿园", "学前教育", 2),
    ("P8321", "小学", "普通小学教育", 1),
    ("P8331", "中学", "普通初中教育", 1),
    ("O8051", "洗浴中心", "洗浴服务；足浴服务", 2),
    ("F5212", "超市", "日用百货销售；食品销售", 8),
    ("F5211", "百货商店", "日用百货销售", 3),
    ("F5261", "汽车销售", "汽车销售；汽车零配件零售", 2),
    ("F5265", "加油站", "成品油零售（凭许可证经营）", 1),
    ("E4710", "建筑工程", "房屋建筑工程施工", 4),
    ("E5011", "装饰工程", "住宅室内装饰装修", 3),
    ("C1391", "食品", "速冻食品制造", 2),
    ("C1524", "酒业", "白酒制造（凭许可证经营）", 1),
    ("C2029", "木业", "木材加工；木制品制造", 2),
    ("I6513", "科技", "软件开发；信息技术咨询服务", 3),
    ("K7010", "房地产开发", "房地产开发经营", 2),
    ("L7212", "投资管理", "企业管理咨询；以自有资金从事投资活动", 3),
    ("A0111", "农业", "谷物种植；农产品初加工", 3),
    ("A0322", "养殖", "牲畜饲养", 2),
    ("M7491", "消防技术服务", "消防设施维护保养检测；消防安全评估", 1),
    ("S9221", "行政机关", "行政管理", 1),
    ("S9522", "协会", "行业服务；会员服务", 1),
)
FIRE_SENSITIVE_PREFIXES = ("H61", "H62", "R90", "G59", "Q84", "P83", "O805", "F521")

SURNAMES = ("金", "李", "朴", "崔", "郑", "张", "王", "刘", "姜", "赵", "韩", "孙", "陈", "杨", "吴", "许",
            "申", "全", "权", "南", "玄", "尹", "徐", "高", "马", "方", "于", "宋")
GIVEN = ("明", "哲", "英", "秀", "花", "龙", "浩", "敏", "珍", "善", "国", "成", "东", "海", "春", "华",
         "玉", "顺", "日", "光", "永", "贤", "美", "丽", "志", "勇", "俊", "淑", "红", "梅", "锡", "范")
BRANDS = ("长白山", "金达莱", "图们江", "海兰江", "布尔哈通", "天池", "帽儿山", "鑫源", "恒泰", "瑞丰",
          "阿里郎", "延边", "百草", "松花", "东盛", "兴隆", "福顺", "北国", "金刚山", "红旗", "万达", "绿源",
          "美林", "荣达", "华信", "吉祥", "丰泽", "润泽", "安达", "顺发")

# unit types: (share, USCC authority+entity code, 企业类型 label, name style)
UNIT_TYPES: tuple[tuple[str, int, str, str], ...] = (
    ("enterprise", 30, "91", "有限责任公司（自然人投资或控股）"),
    ("enterprise", 6, "91", "股份有限公司（非上市、自然人投资或控股）"),
    ("enterprise", 3, "91", "有限责任公司（国有独资）"),
    ("individual_business", 52, "92", "个体工商户"),
    ("enterprise", 2, "93", "农民专业合作社"),
    ("institution", 4, "12", "事业单位"),
    ("social_organisation", 2, "51", "社会团体"),
    ("government_organ", 1, "11", "机关"),
)
AUTHORITIES = {
    "222401": "延吉市市场监督管理局", "222402": "图们市市场监督管理局", "222403": "敦化市市场监督管理局",
    "222404": "珲春市市场监督管理局", "222405": "龙井市市场监督管理局", "222406": "和龙市市场监督管理局",
    "222424": "汪清县市场监督管理局", "222426": "安图县市场监督管理局",
}


def _expand(weights: tuple[int, ...]) -> tuple[int, ...]:
    table: list[int] = []
    for i, w in enumerate(weights):
        table.extend([i] * w)
    return tuple(table)


_COUNTY_PICK = _expand(COUNTY_WEIGHTS)
_INDUSTRY_PICK = _expand(tuple(i[3] for i in INDUSTRIES))
_TYPE_PICK = _expand(tuple(t[1] for t in UNIT_TYPES))
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_W = [pow(3, i, 31) for i in range(17)]
_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)
_CIT_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CIT_CHECK = "10X98765432"
_ORG_SPACE = 31**8
_ORG_MULTIPLIER = 550_731_776_267  # coprime with 31: the map index -> body is a bijection
_EPOCH = dt.date(1950, 1, 1)


def _pair_table(pos: int) -> tuple[tuple[str, int, int], ...]:
    """Two body characters at positions 2*pos, 2*pos+1: their text, GB 11714 and USCC partial sums."""
    out = []
    for v in range(961):
        a, b = USCC_CHARSET[v % 31], USCC_CHARSET[v // 31]
        i, j = 2 * pos, 2 * pos + 1
        out.append((a + b, int(a, 36) * _ORG_W[i] + int(b, 36) * _ORG_W[j],
                    _USCC_VALUE[a] * _USCC_W[8 + i] + _USCC_VALUE[b] * _USCC_W[8 + j]))
    return tuple(out)


_PAIR_TABLES = tuple(_pair_table(p) for p in range(4))
_BASE_DAY = dt.date(2025, 12, 31)


@dataclass(slots=True)
class SyntheticUnit:
    index: int
    uscc: str
    name: str
    unit_type: str
    entity_type_cn: str
    region_code: str
    county: str
    address: str
    industry_code: str
    business_scope: str
    legal_rep_name: str
    legal_rep_id: str
    registered_capital_wan: str  # 万元, four decimals, e.g. "305843.0395"
    established_on: dt.date
    reg_authority: str

    @property
    def fire_sensitive(self) -> bool:
        return self.industry_code.startswith(FIRE_SENSITIVE_PREFIXES)


class YanbianGenerator:
    """`YanbianGenerator(seed).unit(i)` is deterministic; `units(start, n)` streams them."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._key = hashlib.blake2b(f"yanbian-synthetic/{seed}".encode(), digest_size=32).digest()
        self._offset = int.from_bytes(self._key[:8], "big") % _ORG_SPACE
        self._hasher = hashlib.blake2b(digest_size=32, key=self._key)
        self._prefix_sums: dict[str, int] = {}
        self._date_sums: dict[int, tuple[str, int]] = {}

    def _digest(self, index: int, salt: bytes = b"") -> bytes:
        h = self._hasher.copy()
        h.update(index.to_bytes(8, "big") + salt)
        return h.digest()

    def uscc_for(self, index: int, type_code: str, region: str) -> str:
        # bijective in index: 8-character organisation body from an affine map modulo 31^8
        value = (index * _ORG_MULTIPLIER + self._offset) % _ORG_SPACE
        body = ""
        org_total = 0
        uscc_total = 0
        for table in _PAIR_TABLES:
            value, v = divmod(value, 961)
            chars, osum, usum = table[v]
            body += chars
            org_total += osum
            uscc_total += usum
        check = 11 - org_total % 11
        org_check = "X" if check == 10 else "0" if check == 11 else str(check)
        prefix = type_code + region
        psum = self._prefix_sums.get(prefix)
        if psum is None:
            psum = sum(_USCC_VALUE[c] * w for c, w in zip(prefix, _USCC_W[:8], strict=True))
            self._prefix_sums[prefix] = psum
        total = psum + uscc_total + _USCC_VALUE[org_check] * _USCC_W[16]
        return prefix + body + org_check + USCC_CHARSET[(31 - total % 31) % 31]

    def _citizen_id(self, region: str, day_offset: int, serial: int) -> str:
        key = day_offset
        cached = self._date_sums.get(key)
        if cached is None:
            born = _EPOCH + dt.timedelta(days=day_offset)
            digits = f"{born:%Y%m%d}"
            cached = (digits, sum(int(c) * w for c, w in zip(digits, _CIT_W[6:14], strict=True)))
            self._date_sums[key] = cached
        digits, dsum = cached
        rsum = self._prefix_sums.get("c" + region)
        if rsum is None:
            rsum = sum(int(c) * w for c, w in zip(region, _CIT_W[:6], strict=True))
            self._prefix_sums["c" + region] = rsum
        s = f"{serial:03d}"
        total = rsum + dsum + int(s[0]) * 8 + int(s[1]) * 4 + int(s[2]) * 2
        return f"{region}{digits}{s}{_CIT_CHECK[total % 11]}"

    def unit(self, index: int) -> SyntheticUnit:
        d = self._digest(index)
        county = COUNTIES[_COUNTY_PICK[d[0] % len(_COUNTY_PICK)]]
        region, county_name, short, towns, roads = county
        utype, _, type_code, type_cn = UNIT_TYPES[_TYPE_PICK[d[1] % len(_TYPE_PICK)]]
        industry, word, scope, _ = INDUSTRIES[_INDUSTRY_PICK[(d[2] << 8 | d[3]) % len(_INDUSTRY_PICK)]]
        brand = BRANDS[d[4] % len(BRANDS)]
        if utype == "individual_business":
            if industry[0] in "CEKLMS":  # 个体户 rarely build, develop land or manufacture: make it a shop
                industry, word, scope, _ = INDUSTRIES[(3, 4, 6, 20, 21, 22)[d[5] % 6]]
            owner = SURNAMES[d[5] % len(SURNAMES)]
            name = f"{county_name}{brand}{word}" if d[6] & 1 else f"{county_name}{owner}记{word}"
        elif utype == "institution":
            if d[6] & 1:
                industry, scope = "Q8411", "综合医疗服务"
                name = f"{county_name}{('人民医院', '中医医院', '妇幼保健院', '第二人民医院')[d[7] % 4]}"
            else:
                industry, scope = "P8331", "普通初中教育"
                name = f"{county_name}第{d[7] % 12 + 1}中学"
        elif utype == "social_organisation":
            industry, scope = "S9522", "行业服务；会员服务"
            name = f"{county_name}{brand}{word}协会"
        elif utype == "government_organ":
            industry, scope = "S9221", "行政管理"
            organ = ("应急管理局", "住房和城乡建设局", "商务局", "文化广播电视和旅游局")[d[6] % 4]
            name = f"{county_name}{organ}"
        elif type_code == "93":
            name = f"{county_name}{brand}{word}专业合作社"
        else:
            tail = "股份有限公司" if "股份" in type_cn else "有限公司"
            name = f"{short}{brand}{word}{tail}" if d[6] & 1 else f"延边{brand}{word}{tail}"
        # names must stay unique enough to read; the index suffix keeps near-duplicates apart
        if d[9] % 4 == 0:
            name = name.replace(county_name, f"{county_name}{towns[d[10] % len(towns)]}", 1)
        uscc = self.uscc_for(index, type_code, region)
        rep_name = SURNAMES[d[11] % len(SURNAMES)] + GIVEN[d[12] % len(GIVEN)] + (
            GIVEN[d[13] % len(GIVEN)] if d[14] & 1 else "")
        day_offset = (d[15] << 8 | d[16]) % 18_250  # born 1950-1999
        rep_id = self._citizen_id(region, day_offset, (d[17] << 8 | d[18]) % 1000)
        established = _BASE_DAY - dt.timedelta(days=(d[19] << 16 | d[20] << 8 | d[21]) % 12_000)
        capital_units = (d[22] << 24 | d[23] << 16 | d[24] << 8 | d[25])
        if utype == "individual_business":
            capital = f"{capital_units % 500}.{d[26] % 10}000"
        else:
            capital = f"{capital_units % 50_000 + 10}.{(d[26] << 8 | d[27]) % 10_000:04d}"
        address = (f"吉林省延边朝鲜族自治州{county_name}{towns[d[28] % len(towns)]}"
                   f"{roads[d[29] % len(roads)]}{(d[30] << 8 | d[31]) % 999 + 1}号")
        return SyntheticUnit(
            index=index, uscc=uscc, name=name, unit_type=utype, entity_type_cn=type_cn, region_code=region,
            county=county_name, address=address, industry_code=industry, business_scope=scope,
            legal_rep_name=rep_name, legal_rep_id=rep_id, registered_capital_wan=capital,
            established_on=established, reg_authority=AUTHORITIES[region],
        )

    def units(self, start: int = 0, count: int = 1000) -> Iterator[SyntheticUnit]:
        unit = self.unit
        for i in range(start, start + count):
            yield unit(i)

    def variant(self, index: int, generation: int) -> int:
        """A deterministic small number for the `generation`-th change of unit `index` (0..2**32)."""
        return int.from_bytes(self._digest(index, generation.to_bytes(4, "big"))[:4], "big")
