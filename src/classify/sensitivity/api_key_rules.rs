//! The table of known credential shapes: each rule names the literal that
//! triggers it (found by the one keyword pass), the regex that must match
//! from there, and small validators. Written for airlock from providers'
//! published token formats; no rule is copied from another scanner.
//!
//! Must not: hold a rule whose literal is shorter than two bytes (one byte
//! only for inner rules, which first check the byte before it), or a
//! pattern that can match an empty string.

use super::Kind;

/// One known shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    /// Case-sensitive literals; any one of them triggers the rule.
    pub literals: &'static [&'static str],
    /// Regex for the whole token. With `back == 0` it is anchored at the
    /// literal; otherwise it may start up to `back` bytes before it and must
    /// cover it.
    pub pattern: &'static str,
    pub back: usize,
    /// Bytes after the literal's start that the match may reach.
    pub after: usize,
    pub kind: Kind,
    /// The byte after the match must not be an ASCII letter or digit.
    pub end_word: bool,
    /// The byte before the match must not be `. _ - /` either (besides
    /// letters and digits, which are always refused).
    pub strict_start: bool,
    /// The token must hold both a digit and a letter after the literal.
    pub mixed: bool,
}

const fn rule(literals: &'static [&'static str], pattern: &'static str) -> Rule {
    Rule {
        literals,
        pattern,
        back: 0,
        after: 4096,
        kind: Kind::ApiKey,
        end_word: false,
        strict_start: false,
        mixed: false,
    }
}

impl Rule {
    const fn end(self) -> Rule {
        Rule {
            end_word: true,
            ..self
        }
    }
    const fn strict(self) -> Rule {
        Rule {
            strict_start: true,
            ..self
        }
    }
    const fn mixed(self) -> Rule {
        Rule {
            mixed: true,
            ..self
        }
    }
    const fn secret(self) -> Rule {
        Rule {
            kind: Kind::Secret,
            ..self
        }
    }
    const fn private_key(self) -> Rule {
        Rule {
            kind: Kind::PrivateKey,
            ..self
        }
    }
    /// The literal sits inside the token: look `back` bytes before it and
    /// `after` bytes after it.
    const fn inner(self, back: usize, after: usize) -> Rule {
        Rule {
            back,
            after,
            ..self
        }
    }
}

/// All rules. Order does not matter; overlapping findings are merged.
#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    // OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-), Anthropic (sk-ant-), DeepSeek...
    rule(&["sk-"], r"sk-[A-Za-z0-9_-]{20,}").mixed(),
    rule(&["AKIA", "ASIA", "ABIA", "ACCA", "A3T"], r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}").end(),
    rule(&["ABSK"], r"ABSK[A-Za-z0-9+/]{100,}={0,2}"),
    rule(&["bedrock-api-key-"], r"bedrock-api-key-[A-Za-z0-9+/=]{20,}"),
    rule(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], r"gh[pousr]_[A-Za-z0-9]{30,255}").end(),
    rule(&["github_pat_"], r"github_pat_[A-Za-z0-9_]{40,255}"),
    rule(&["glpat-", "glptt-", "glrt-", "gldt-", "glsoat-", "glcbt-", "glimt-", "glagent-", "glffct-"], r"gl[a-z]{2,6}-[A-Za-z0-9_.-]{20,}"),
    rule(&["GR1348941"], r"GR1348941[A-Za-z0-9_-]{20}").end(),
    rule(&["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xoxe-", "xoxe."], r"xox(?:e\.xox)?[abposre]-[0-9][A-Za-z0-9-]{9,}").mixed(),
    rule(&["xapp-"], r"xapp-\d-[A-Za-z0-9-]{20,}"),
    rule(&["hooks.slack.com/"], r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}"),
    rule(&["sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"], r"[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,}"),
    rule(&["whsec_"], r"whsec_[A-Za-z0-9+/=]{24,}"),
    rule(&["AIza"], r"AIza[A-Za-z0-9_-]{35}").end(),
    rule(&["GOCSPX-"], r"GOCSPX-[A-Za-z0-9_-]{28}"),
    rule(&["ya29."], r"ya29\.[A-Za-z0-9_-]{30,}"),
    rule(&["SG."], r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    rule(&["SK"], r"SK[0-9a-fA-F]{32}").end().mixed(),
    rule(&["hf_"], r"hf_[A-Za-z0-9]{34}").end().strict(),
    rule(&["api_org_"], r"api_org_[A-Za-z]{34}").end(),
    rule(&["npm_"], r"npm_[A-Za-z0-9]{36}").end(),
    rule(&["pypi-AgEIcHlwaS5vcmc"], r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    rule(&["ntn_"], r"ntn_[0-9]{11}[A-Za-z0-9]{35}").end(),
    rule(&["secret_"], r"secret_[A-Za-z0-9]{43}").end().strict(),
    rule(&["pplx-"], r"pplx-[A-Za-z0-9]{48}").end(),
    rule(&["gsk_"], r"gsk_[A-Za-z0-9]{48,}").end(),
    rule(&["xai-"], r"xai-[A-Za-z0-9]{70,}").end(),
    rule(&["r8_"], r"r8_[A-Za-z0-9]{37}").end(),
    rule(&["dop_v1_", "doo_v1_", "dor_v1_"], r"do[opr]_v1_[a-f0-9]{64}").end(),
    rule(&["shpat_", "shpca_", "shppa_", "shpss_"], r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}").end(),
    rule(&["ATATT3"], r"ATATT3[A-Za-z0-9_=-]{100,}"),
    rule(&["dapi"], r"dapi[a-f0-9]{32}(?:-\d)?").end().mixed(),
    rule(&["hvs.", "hvb."], r"hv[sb]\.[A-Za-z0-9_-]{24,}"),
    rule(&["fo1_"], r"fo1_[A-Za-z0-9_-]{43}").end(),
    rule(&["fm1r_", "fm1a_", "fm2_"], r"fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}"),
    rule(&["glc_"], r"glc_[A-Za-z0-9+/]{32,400}={0,2}"),
    rule(&["glsa_"], r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}").end(),
    rule(&["sntrys_"], r"sntrys_eyJ[A-Za-z0-9+/=_-]{40,}"),
    rule(&["sntryu_"], r"sntryu_[a-f0-9]{64}").end(),
    rule(&["AGE-SECRET-KEY-1"], r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}").private_key(),
    rule(&["ops_eyJ"], r"ops_eyJ[A-Za-z0-9+/=_-]{100,}"),
    rule(&["A3-"], r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}").end(),
    rule(&["v1.0-"], r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
    rule(&["HRKU-"], r"HRKU-AA[A-Za-z0-9_-]{58}"),
    rule(&["ico-"], r"ico-[A-Za-z0-9]{32}").end().strict(),
    rule(&["API-"], r"API-[A-Z0-9]{26}").end().strict(),
    rule(&["sha256~"], r"sha256~[A-Za-z0-9_-]{43}"),
    rule(&["tk-us-"], r"tk-us-[A-Za-z0-9_-]{48}"),
    rule(&["sgp_"], r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}").end(),
    rule(&["sq0atp-", "sq0csp-"], r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}"),
    rule(&["EAA"], r"EAA[A-Za-z0-9_+=-]{60,}").mixed(),
    rule(&["s-s4t2"], r"s-s4t2(?:ud|af)-[a-f0-9]{64}").end(),
    rule(&["PMAK-"], r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}").end(),
    rule(&["lin_api_"], r"lin_api_[A-Za-z0-9]{40}").end(),
    rule(&["dp.pt.", "dp.st.", "dp.sa.", "dp.ct."], r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9_-]{40,}"),
    rule(&["pul-"], r"pul-[a-f0-9]{40}").end().strict(),
    rule(&["NRAK-"], r"NRAK-[A-Z0-9]{27}").end(),
    rule(&["sbp_"], r"sbp_[a-f0-9]{40}").end(),
    rule(&["AKCp"], r"AKCp[A-Za-z0-9]{69}").end(),
    rule(&["rdme_"], r"rdme_[a-z0-9]{70}").end(),
    rule(&["pnu_"], r"pnu_[A-Za-z0-9]{36}").end(),
    rule(&["sk.eyJ"], r"sk\.eyJ[A-Za-z0-9_-]{50,}\.[A-Za-z0-9_-]{20,}"),
    rule(&["CLOJARS_"], r"CLOJARS_[a-z0-9]{60}").end(),
    rule(&["dt0c01."], r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}").end(),
    rule(&["AccountKey=", "SharedAccessKey="], r"(?:Account|SharedAccess)Key=[A-Za-z0-9+/]{40,}={0,2}").secret(),
    rule(&["sqp_", "squ_", "sqa_"], r"sq[pua]_[A-Za-z0-9]{40}").end(),
    // Shapes whose literal sits inside the token.
    rule(&["-us"], r"[0-9a-f]{32}-us[0-9]{1,2}").end().inner(32, 5),
    rule(&["__CONTRIBSYS__COM"], r#"BUNDLE_[A-Z]+__CONTRIBSYS__COM["']?\s*[:=]\s*["']?[a-f0-9]{8}:[a-f0-9]{8}"#).secret().inner(24, 60),
    rule(&[":AA"], r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}").end().inner(10, 40),
    rule(&["Q~"], r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}").inner(4, 40),
    rule(&[".atlasv1."], r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}").inner(14, 90),
    rule(&["|"], r"[0-9]{15,16}\|[A-Za-z0-9_-]{27}").end().inner(16, 30),
];
