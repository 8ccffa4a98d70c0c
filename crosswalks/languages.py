"""ISO 639-2 codes, to tell a language code from a language name and to write xml:lang.

DC records carry languages as codes ("eng", "en", "en-US") or as names
("English"); MODS must say which (languageTerm/@type) and by which list
(@authority), and a wrong authority misleads every later reader. MODS @lang is
ISO 639-2/B, while xml:lang wants BCP 47, which uses the two-letter code where
one exists. The table is the Library of Congress ISO 639-2 code list
(B code, T code where different, ISO 639-1 code where one exists).
"""
from __future__ import annotations

import re

_TABLE = """
aar:aa abk:ab ace ach ada ady afa afh afr:af ain aka:ak akk alb/sqi:sq ale alg alt amh:am ang anp apa
ara:ar arc arg:an arm/hye:hy arn arp art arw asm:as ast ath aus ava:av ave:ae awa aym:ay aze:az bad bai
bak:ba bal bam:bm ban baq/eus:eu bas bat bej bel:be bem ben:bn ber bho bih:bh bik bin bis:bi bla bnt
bos:bs bra bre:br btk bua bug bul:bg bur/mya:my byn cad cai car cat:ca cau ceb cel cha:ch chb che:ce chg
chi/zho:zh chk chm chn cho chp chr chu:cu chv:cv chy cmc cop cor:kw cos:co cpe cpf cpp cre:cr crh crp
csb cus cze/ces:cs dak dan:da dar day del den dgr din div:dv doi dra dsb dua dum dut/nld:nl dyu dzo:dz
efi egy eka elx eng:en enm epo:eo est:et ewe:ee ewo fan fao:fo fat fij:fj fil fin:fi fiu fon fre/fra:fr
frm fro frr frs fry:fy ful:ff fur gaa gay gba gem geo/kat:ka ger/deu:de gez gil gla:gd gle:ga glg:gl
glv:gv gmh goh gon gor got grb grc gre/ell:el grn:gn gsw guj:gu gwi hai hat:ht hau:ha haw heb:he her:hz
hil him hin:hi hit hmn hmo:ho hrv:hr hsb hun:hu hup iba ibo:ig ice/isl:is ido:io iii:ii ijo iku:iu
ile:ie ilo ina:ia inc ind:id ine inh ipk:ik ira iro ita:it jav:jv jbo jpn:ja jpr jrb kaa kab kac kal:kl
kam kan:kn kar kas:ks kau:kr kaw kaz:kk kbd kha khi khm:km kho kik:ki kin:rw kir:ky kmb kok kom:kv
kon:kg kor:ko kos kpe krc krl kro kru kua:kj kum kur:ku kut lad lah lam lao:lo lat:la lav:lv lez lim:li
lin:ln lit:lt lol loz ltz:lb lua lub:lu lug:lg lui lun luo lus mac/mkd:mk mad mag mah:mh mai mak mal:ml
man mao/mri:mi map mar:mr mas may/msa:ms mdf mdr men mga mic min mis mkh mlg:mg mlt:mt mnc mni mno moh
mon:mn mos mul mun mus mwl mwr myn myv nah nai nap nau:na nav:nv nbl:nr nde:nd ndo:ng nds nep:ne new nia
nic niu nno:nn nob:nb nog non nor:no nqo nso nub nwc nya:ny nym nyn nyo nzi oci:oc oji:oj ori:or orm:om
osa oss:os ota oto paa pag pal pam pan:pa pap pau peo per/fas:fa phi phn pli:pi pol:pl pon por:pt pra
pro pus:ps que:qu raj rap rar roa roh:rm rom rum/ron:ro run:rn rup rus:ru sad sag:sg sah sai sal sam
san:sa sas sat scn sco sel sem sga sgn shn sid sin:si sio sit sla slo/slk:sk slv:sl sma sme:se smi smj
smn smo:sm sms sna:sn snd:sd snk sog som:so son sot:st spa:es srd:sc srn srp:sr srr ssa ssw:ss suk
sun:su sus sux swa:sw swe:sv syc syr tah:ty tai tam:ta tat:tt tel:te tem ter tet tgk:tg tgl:tl tha:th
tib/bod:bo tig tir:ti tiv tkl tlh tli tmh tog ton:to tpi tsi tsn:tn tso:ts tuk:tk tum tup tur:tr tut
tvl twi:tw tyv udm uga uig:ug ukr:uk umb und urd:ur uzb:uz vai ven:ve vie:vi vol:vo vot wak wal war was
wel/cym:cy wen wln:wa wol:wo xal xho:xh yao yap yid:yi yor:yo ypk zap zbl zen zgh zha:za znd zul:zu zun
zxx zza
"""


def _parse(table: str) -> tuple[frozenset[str], dict[str, str], dict[str, str]]:
    bib: set[str] = set()
    terminologic: dict[str, str] = {}   # T code -> B code, only where they differ
    two_letter: dict[str, str] = {}     # B or T code -> ISO 639-1
    for token in table.split():
        codes, _, alpha2 = token.partition(":")
        b, _, t = codes.partition("/")
        bib.add(b)
        if t:
            terminologic[t] = b
        if alpha2:
            two_letter[b] = alpha2
            if t:
                two_letter[t] = alpha2
    return frozenset(bib), terminologic, two_letter


ISO639_2B, _T_TO_B, _TO_639_1 = _parse(_TABLE)
ISO639_1 = frozenset(_TO_639_1.values())
_LOCAL_USE = re.compile(r"q[a-t][a-z]")  # qaa-qtz, reserved for local use
_BCP47 = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})+")


def language_term(value: str) -> tuple[str, str | None]:
    """(languageTerm/@type, @authority) for a DC language value; names stay text."""
    if value in ISO639_2B or _LOCAL_USE.fullmatch(value):
        return "code", "iso639-2b"
    if value in _T_TO_B:
        return "code", "iso639-3"   # every ISO 639-2/T code is also an ISO 639-3 code
    if value in ISO639_1 or (_BCP47.fullmatch(value) and value.split("-")[0].lower() in ISO639_1 | ISO639_2B):
        return "code", "rfc5646"
    return "text", None


def bcp47(code: str, script: str | None = None) -> str | None:
    """The xml:lang tag for a MODS @lang (ISO 639-2) and @script (ISO 15924), or None if @lang is not a code."""
    code = code.strip()
    if code in ISO639_2B or code in _T_TO_B or _LOCAL_USE.fullmatch(code):
        tag = _TO_639_1.get(code, code)
    else:
        return None
    if script and len(script) == 4 and script.isascii() and script.isalpha():
        tag += "-" + script.capitalize()
    return tag
