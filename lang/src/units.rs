//! Unit symbols and the meaning of unit annotations (`m/s^2`, `kg·m^2/s^2`, `km`, `μs`).
//!
//! A unit annotation ([`ast::UnitExpr`]) becomes a [`sci_ir::Unit`]: SI base dimensions with
//! rational exponents and a scale to the coherent SI unit. Symbols are the SI base units,
//! the named derived units, a few accepted non-SI units (`L`, `min`, `h`, `day`, `eV`, `bar`)
//! and SI prefixes (`p n μ u m c d k M G T`) on the units where prefixes are customary.
//! Angles (`rad`, `sr`) are dimensionless, as in SI. Temperatures in °C or °F are affine
//! (they have an offset), so they are refused with a hint to use kelvin.

use crate::ast::UnitExpr;
use crate::check::suggest::did_you_mean;
use sci_diag::Diagnostic;
use sci_ir::unit::{Rational, Unit};

/// One unit symbol of the table.
#[derive(Clone, Copy, Debug)]
pub struct UnitSymbol {
    /// The symbol as written in source (`N`, `Ω`).
    pub symbol: &'static str,
    /// The unit's name, for hover text (`newton`).
    pub name: &'static str,
    /// Exponents of m, kg, s, A, K, mol, cd.
    pub dims: [i32; 7],
    /// Factor to the coherent SI unit.
    pub scale: f64,
    /// Whether SI prefixes may be put in front (`kN`, but not `kmin`).
    pub prefixable: bool,
}

impl UnitSymbol {
    /// The unit this symbol denotes.
    pub fn unit(&self) -> Unit {
        let mut u = Unit::DIMENSIONLESS;
        for (d, e) in u.dims.iter_mut().zip(self.dims) {
            *d = Rational::int(e);
        }
        u.scale = self.scale;
        u
    }
}

const fn sym(
    symbol: &'static str,
    name: &'static str,
    dims: [i32; 7],
    scale: f64,
    prefixable: bool,
) -> UnitSymbol {
    UnitSymbol {
        symbol,
        name,
        dims,
        scale,
        prefixable,
    }
}

/// Every unit symbol, base units first.
pub const SYMBOLS: &[UnitSymbol] = &[
    sym("m", "metre", [1, 0, 0, 0, 0, 0, 0], 1.0, true),
    sym("g", "gram", [0, 1, 0, 0, 0, 0, 0], 1e-3, true),
    sym("s", "second", [0, 0, 1, 0, 0, 0, 0], 1.0, true),
    sym("A", "ampere", [0, 0, 0, 1, 0, 0, 0], 1.0, true),
    sym("K", "kelvin", [0, 0, 0, 0, 1, 0, 0], 1.0, true),
    sym("mol", "mole", [0, 0, 0, 0, 0, 1, 0], 1.0, true),
    sym("cd", "candela", [0, 0, 0, 0, 0, 0, 1], 1.0, true),
    sym("N", "newton", [1, 1, -2, 0, 0, 0, 0], 1.0, true),
    sym("J", "joule", [2, 1, -2, 0, 0, 0, 0], 1.0, true),
    sym("W", "watt", [2, 1, -3, 0, 0, 0, 0], 1.0, true),
    sym("Pa", "pascal", [-1, 1, -2, 0, 0, 0, 0], 1.0, true),
    sym("Hz", "hertz", [0, 0, -1, 0, 0, 0, 0], 1.0, true),
    sym("C", "coulomb", [0, 0, 1, 1, 0, 0, 0], 1.0, true),
    sym("V", "volt", [2, 1, -3, -1, 0, 0, 0], 1.0, true),
    sym("Ω", "ohm", [2, 1, -3, -2, 0, 0, 0], 1.0, true),
    sym("ohm", "ohm", [2, 1, -3, -2, 0, 0, 0], 1.0, true),
    sym("F", "farad", [-2, -1, 4, 2, 0, 0, 0], 1.0, true),
    sym("H", "henry", [2, 1, -2, -2, 0, 0, 0], 1.0, true),
    sym("S", "siemens", [-2, -1, 3, 2, 0, 0, 0], 1.0, true),
    sym("T", "tesla", [0, 1, -2, -1, 0, 0, 0], 1.0, true),
    sym("Wb", "weber", [2, 1, -2, -1, 0, 0, 0], 1.0, true),
    sym("rad", "radian (dimensionless)", [0; 7], 1.0, true),
    sym("sr", "steradian (dimensionless)", [0; 7], 1.0, false),
    sym("L", "litre (1e-3 m^3)", [3, 0, 0, 0, 0, 0, 0], 1e-3, true),
    sym("min", "minute (60 s)", [0, 0, 1, 0, 0, 0, 0], 60.0, false),
    sym("h", "hour (3600 s)", [0, 0, 1, 0, 0, 0, 0], 3600.0, false),
    sym(
        "day",
        "day (86400 s)",
        [0, 0, 1, 0, 0, 0, 0],
        86400.0,
        false,
    ),
    sym(
        "eV",
        "electronvolt (1.602176634e-19 J)",
        [2, 1, -2, 0, 0, 0, 0],
        1.602_176_634e-19,
        true,
    ),
    sym("bar", "bar (1e5 Pa)", [-1, 1, -2, 0, 0, 0, 0], 1e5, true),
];

/// SI prefixes accepted in front of prefixable symbols.
pub const PREFIXES: &[(&str, f64)] = &[
    ("p", 1e-12),
    ("n", 1e-9),
    ("μ", 1e-6),
    ("µ", 1e-6), // U+00B5 MICRO SIGN, which keyboards often produce
    ("u", 1e-6),
    ("m", 1e-3),
    ("c", 1e-2),
    ("d", 1e-1),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
];

/// Prefixed symbols common enough to be offered as "did you mean" suggestions.
const COMMON_PREFIXED: &[&str] = &[
    "kg", "mg", "km", "cm", "mm", "μm", "nm", "ms", "μs", "ns", "kN", "kJ", "kW", "MW", "kPa",
    "MPa", "GPa", "kHz", "MHz", "GHz", "mV", "kV", "mA", "μA", "mL", "mmol", "kmol", "keV", "MeV",
    "mbar",
];

/// Spellings of affine temperature scales, refused with a hint.
const AFFINE: &[&str] = &[
    "degC",
    "°C",
    "℃",
    "degF",
    "°F",
    "℉",
    "celsius",
    "fahrenheit",
];

/// The table entry for an unprefixed symbol.
pub fn symbol(name: &str) -> Option<&'static UnitSymbol> {
    SYMBOLS.iter().find(|s| s.symbol == name)
}

/// The unit a (possibly prefixed) symbol denotes: exact symbols win over prefix readings,
/// so `min` is a minute and `cd` a candela, not a milli-inch or a centi-day.
pub fn lookup(name: &str) -> Option<Unit> {
    if let Some(s) = symbol(name) {
        return Some(s.unit());
    }
    for (prefix, factor) in PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix)
            && let Some(s) = symbol(rest)
            && s.prefixable
        {
            return Some(s.unit().scaled(*factor));
        }
    }
    None
}

/// A description of a unit for messages: the SI form (`m/s^2`, `1`), except that a scaled
/// single base unit is written with its prefix or name (`km`, `g`, `μs`, `min`).
pub fn describe(unit: &Unit) -> String {
    let nonzero: Vec<(usize, Rational)> = unit
        .dims
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_zero())
        .map(|(i, d)| (i, *d))
        .collect();
    // Named derived units (`N`, `J`, `Pa`, …) read better than their SI expansion.
    const NAMED: [&str; 12] = ["N", "J", "W", "Pa", "C", "V", "Ω", "F", "H", "S", "T", "Wb"];
    if nonzero.len() > 1
        && let Some(s) = NAMED
            .iter()
            .filter_map(|n| symbol(n))
            .find(|s| s.unit() == *unit)
    {
        return s.symbol.to_string();
    }
    // A prefixed named unit (`kN`, `MPa`, `mV`).
    if nonzero.len() > 1 {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        for s in NAMED.iter().filter_map(|n| symbol(n)) {
            if s.unit().dims != unit.dims {
                continue;
            }
            for (prefix, factor) in PREFIXES.iter().filter(|(p, _)| *p != "µ" && *p != "u") {
                if close(*factor, unit.scale) {
                    return format!("{prefix}{}", s.symbol);
                }
            }
        }
    }
    if let [(i, d)] = nonzero[..]
        && d == Rational::int(1)
        && unit.scale != 1.0
    {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        // Named scaled units of the same dimension (minutes, hours, litres, grams).
        if let Some(s) = SYMBOLS
            .iter()
            .find(|s| !s.prefixable && s.unit().dims == unit.dims && close(s.scale, unit.scale))
        {
            return s.symbol.to_string();
        }
        // A prefix on the base symbol (grams for mass).
        let (base, base_scale) = if i == 1 {
            ("g", 1e-3)
        } else {
            (sci_ir::unit::BASE_SYMBOLS[i], 1.0)
        };
        for (prefix, factor) in PREFIXES.iter().filter(|(p, _)| *p != "µ" && *p != "u") {
            if close(factor * base_scale, unit.scale) {
                return format!("{prefix}{base}");
            }
        }
        if close(base_scale, unit.scale) {
            return base.to_string();
        }
    }
    if unit.scale != 1.0
        && let Some(text) = absorbed(unit)
    {
        return text;
    }
    unit.to_string()
}

/// A scaled compound unit written with one base symbol replaced by a named or prefixed
/// unit whose scale accounts for the whole scale: `1/day` rather than
/// `0.000011574074074074073/s`, `km/h`, `g/m^3`. The text parses back to the same unit.
fn absorbed(unit: &Unit) -> Option<String> {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    let base: Vec<String> = sci_ir::unit::BASE_SYMBOLS
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Per base dimension with a whole exponent: its scaled units with the factor each
    // contributes (`h` in `1/h` contributes 1/3600); the SI unit itself contributes 1.
    let options: Vec<(usize, Vec<(String, f64)>)> = (unit.dims.iter().enumerate())
        .filter(|(_, d)| !d.is_zero() && d.den == 1)
        .map(|(i, d)| {
            let mut choices = vec![(base[i].clone(), 1.0)];
            choices.extend(
                scaled_symbols(i)
                    .into_iter()
                    .map(|(sym, scale)| (sym, scale.powi(d.num))),
            );
            (i, choices)
        })
        .collect();
    // One replaced symbol, then two (`km/h`): the first match in table order.
    for (i, choices) in &options {
        for (sym, f) in choices.iter().skip(1) {
            if close(*f, unit.scale) {
                let mut symbols = base.clone();
                symbols[*i] = sym.clone();
                return Some(si_text(unit, &symbols));
            }
        }
    }
    for (a, (i, first)) in options.iter().enumerate() {
        for (j, second) in options.iter().skip(a + 1) {
            for (sym_i, f_i) in first.iter().skip(1) {
                for (sym_j, f_j) in second.iter().skip(1) {
                    if close(f_i * f_j, unit.scale) {
                        let mut symbols = base.clone();
                        symbols[*i] = sym_i.clone();
                        symbols[*j] = sym_j.clone();
                        return Some(si_text(unit, &symbols));
                    }
                }
            }
        }
    }
    None
}

/// The units of base dimension `i` with a scale other than its SI unit's: named ones
/// (`min`, `h`, `day`) and the SI prefixes on the base symbol (on `g` for mass).
fn scaled_symbols(i: usize) -> Vec<(String, f64)> {
    let mut dims = [0i32; 7];
    dims[i] = 1;
    let mut out: Vec<(String, f64)> = SYMBOLS
        .iter()
        .filter(|s| !s.prefixable && s.dims == dims && s.scale != 1.0)
        .map(|s| (s.symbol.to_string(), s.scale))
        .collect();
    let (base, base_scale) = if i == 1 {
        ("g", 1e-3)
    } else {
        (sci_ir::unit::BASE_SYMBOLS[i], 1.0)
    };
    if base_scale != 1.0 {
        out.push((base.to_string(), base_scale));
    }
    for (prefix, factor) in PREFIXES.iter().filter(|(p, _)| *p != "µ" && *p != "u") {
        out.push((format!("{prefix}{base}"), factor * base_scale));
    }
    out
}

/// The SI form of `unit` (as `Unit`'s `Display`, without the scale) with `symbols` for the
/// base dimensions.
fn si_text(unit: &Unit, symbols: &[String]) -> String {
    let power = |sym: &str, num: i64, den: i64| match (num, den) {
        (1, 1) => sym.to_string(),
        (n, 1) => format!("{sym}^{n}"),
        (n, d) => format!("{sym}^({n}/{d})"),
    };
    let mut numer = Vec::new();
    let mut denom = Vec::new();
    for (sym, d) in symbols.iter().zip(unit.dims) {
        if d.num > 0 {
            numer.push(power(sym, d.num.into(), d.den.into()));
        } else if d.num < 0 {
            denom.push(power(sym, (-d.num).into(), d.den.into()));
        }
    }
    let mut out = if numer.is_empty() {
        "1".to_string()
    } else {
        numer.join("·")
    };
    match denom.len() {
        0 => {}
        1 => out.push_str(&format!("/{}", denom[0])),
        _ => out.push_str(&format!("/({})", denom.join("·"))),
    }
    out
}

/// `a/b` as a unit expression that parses (for the conversion constants of hints), each
/// side described as a user writes it and parenthesised when compound: `(1/s)/(1/day)`.
pub fn ratio(a: &Unit, b: &Unit) -> String {
    let side = |u: &Unit| {
        let s = describe(u);
        if s.contains(['/', '·', '^']) {
            format!("({s})")
        } else {
            s
        }
    };
    format!("{}/{}", side(a), side(b))
}

/// A unit displayed with [`describe`], for messages.
#[derive(Clone, Copy, Debug)]
pub struct Pretty(pub Unit);

impl std::fmt::Display for Pretty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

/// The unit an annotation denotes, or the diagnostics explaining why it has none.
pub fn resolve(expr: &UnitExpr) -> Result<Unit, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let unit = resolve_inner(expr, &mut diags, 0);
    match unit {
        Some(u) if diags.is_empty() => Ok(u),
        _ => {
            if diags.is_empty() {
                diags.push(
                    Diagnostic::error("E0406", "This unit expression is too large to represent.")
                        .with_primary(expr.span(), "exponents overflow here"),
                );
            }
            Err(diags)
        }
    }
}

/// Deepest unit expression followed; deeper ones are reported instead of recursed into.
const MAX_DEPTH: u32 = 200;

fn resolve_inner(expr: &UnitExpr, diags: &mut Vec<Diagnostic>, depth: u32) -> Option<Unit> {
    if depth > MAX_DEPTH {
        diags.push(
            Diagnostic::error("E0406", "This unit expression is nested too deeply.")
                .with_primary(expr.span(), "too deeply nested"),
        );
        return None;
    }
    match expr {
        UnitExpr::One(_) => Some(Unit::DIMENSIONLESS),
        UnitExpr::Name(id) => match lookup(&id.name) {
            Some(u) => Some(u),
            None => {
                diags.push(unknown_unit(&id.name, id.span));
                None
            }
        },
        UnitExpr::Mul(a, b) => {
            let a = resolve_inner(a, diags, depth + 1);
            let b = resolve_inner(b, diags, depth + 1);
            a?.mul(&b?)
        }
        UnitExpr::Div(a, b) => {
            let a = resolve_inner(a, diags, depth + 1);
            let b = resolve_inner(b, diags, depth + 1);
            a?.div(&b?)
        }
        UnitExpr::Pow(a, p) => {
            let base = resolve_inner(a, diags, depth + 1);
            let Some(power) = Rational::new(p.num, p.den) else {
                diags.push(
                    Diagnostic::error(
                        "E0406",
                        format!(
                            "The unit exponent {}/{} is not a valid fraction.",
                            p.num, p.den
                        ),
                    )
                    .with_primary(p.span, "invalid exponent")
                    .with_help(
                        "write a whole number such as `s^2` or a fraction such as `m^(1/2)`",
                    ),
                );
                return None;
            };
            base?.powr(power)
        }
    }
}

/// Unit names and informal abbreviations people write instead of the symbol.
const SPELLED_OUT: &[(&str, &str)] = &[
    ("sec", "s"),
    ("secs", "s"),
    ("seconds", "s"),
    ("hr", "h"),
    ("hrs", "h"),
    ("hour", "h"),
    ("hours", "h"),
    ("days", "day"),
    ("meter", "m"),
    ("meters", "m"),
    ("metres", "m"),
    ("liter", "L"),
    ("l", "L"),
    ("kilogram", "kg"),
    ("grams", "g"),
    ("Ohm", "Ω"),
    ("volt", "V"),
];

/// The symbol for a unit written as a word (`second` → `s`, `metre` → `m`).
fn spelled_out(name: &str) -> Option<&'static str> {
    if let Some((_, s)) = SPELLED_OUT.iter().find(|(w, _)| *w == name) {
        return Some(s);
    }
    SYMBOLS
        .iter()
        .find(|s| s.name.split(' ').next() == Some(name))
        .map(|s| s.symbol)
}

fn unknown_unit(name: &str, span: sci_diag::Span) -> Diagnostic {
    if AFFINE.contains(&name) {
        return Diagnostic::error(
            "E0406",
            format!(
                "The temperature scale `{name}` has an offset, so it cannot be used as a unit."
            ),
        )
        .with_primary(span, "affine temperature scale")
        .with_note("units in sci are scale factors of SI units; °C and °F are shifted scales")
        .with_help("use kelvin (`K`) and convert the values: T[K] = T[°C] + 273.15");
    }
    if name.starts_with("deg") {
        return Diagnostic::error("E0401", format!("`{name}` is not a known unit."))
            .with_primary(span, "unknown unit")
            .with_note("angles are dimensionless and measured in radians (`rad`)")
            .with_help("use `rad` and convert degree values with the factor π/180");
    }
    if let Some(symbol) = spelled_out(name) {
        return Diagnostic::error("E0401", format!("`{name}` is not a known unit symbol."))
            .with_primary(span, "unknown unit")
            .with_help(format!("write the SI symbol: `{symbol}`"));
    }
    let candidates = SYMBOLS
        .iter()
        .map(|s| s.symbol)
        .chain(COMMON_PREFIXED.iter().copied());
    let mut d = Diagnostic::error("E0401", format!("`{name}` is not a known unit."))
        .with_primary(span, "unknown unit");
    d = match did_you_mean(name, candidates) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(
            "units are SI symbols (m, kg, s, A, K, mol, cd, N, J, W, Pa, Hz, V, …) with optional prefixes (k, m, μ, …); see docs/checking.md",
        ),
    };
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Ident, UnitPower};
    use sci_diag::{FileId, Span};

    fn sp() -> Span {
        Span::new(FileId(0), 0, 1)
    }
    fn name(s: &str) -> UnitExpr {
        UnitExpr::Name(Ident {
            name: s.into(),
            span: sp(),
        })
    }
    fn pow(u: UnitExpr, num: i64, den: i64) -> UnitExpr {
        UnitExpr::Pow(
            Box::new(u),
            UnitPower {
                num,
                den,
                span: sp(),
            },
        )
    }
    fn div(a: UnitExpr, b: UnitExpr) -> UnitExpr {
        UnitExpr::Div(Box::new(a), Box::new(b))
    }
    fn mul(a: UnitExpr, b: UnitExpr) -> UnitExpr {
        UnitExpr::Mul(Box::new(a), Box::new(b))
    }

    #[test]
    fn base_and_derived_units() {
        let n = resolve(&name("N")).unwrap();
        let kg_m_s2 = resolve(&div(mul(name("kg"), name("m")), pow(name("s"), 2, 1))).unwrap();
        assert_eq!(n, kg_m_s2);
        assert_eq!(
            resolve(&name("J")).unwrap(),
            resolve(&mul(name("N"), name("m"))).unwrap()
        );
        assert!(resolve(&name("rad")).unwrap().is_dimensionless());
        assert_eq!(resolve(&name("Hz")).unwrap().to_string(), "1/s");
    }

    #[test]
    fn prefixes_scale() {
        assert_eq!(lookup("km").unwrap().scale, 1e3);
        assert_eq!(lookup("kg").unwrap(), Unit::base(1));
        assert!((lookup("μs").unwrap().scale - 1e-6).abs() < 1e-20);
        assert!((lookup("us").unwrap().scale - 1e-6).abs() < 1e-20);
        assert_eq!(
            lookup("mL").unwrap(),
            lookup("cm").unwrap().powr(Rational::int(3)).unwrap()
        );
        // Exact symbols win over prefix readings.
        assert_eq!(lookup("min").unwrap().scale, 60.0);
        assert_eq!(lookup("cd").unwrap(), Unit::base(6));
        // No prefixes on minutes, hours, days.
        assert!(lookup("kmin").is_none());
        assert!(lookup("kday").is_none());
    }

    #[test]
    fn descriptions_use_prefixes() {
        assert_eq!(describe(&lookup("km").unwrap()), "km");
        assert_eq!(describe(&lookup("g").unwrap()), "g");
        assert_eq!(describe(&lookup("kg").unwrap()), "kg");
        assert_eq!(describe(&lookup("μs").unwrap()), "μs");
        assert_eq!(describe(&lookup("min").unwrap()), "min");
        assert_eq!(describe(&lookup("N").unwrap()), "N");
        assert_eq!(describe(&lookup("kN").unwrap()), "kN");
        assert_eq!(describe(&lookup("MPa").unwrap()), "MPa");
        assert_eq!(describe(&lookup("Hz").unwrap()), "1/s");
        assert_eq!(describe(&Unit::DIMENSIONLESS), "1");
    }

    #[test]
    fn rational_powers_are_exact() {
        let root_hz = resolve(&pow(name("Hz"), 1, 2)).unwrap();
        assert_eq!(root_hz.to_string(), "1/s^(1/2)");
        let back = root_hz.powr(Rational::int(2)).unwrap();
        assert_eq!(back, lookup("Hz").unwrap());
    }

    #[test]
    fn unknown_units_suggest_a_fix() {
        let err = resolve(&name("mtr")).unwrap_err();
        assert_eq!(err[0].code, "E0401");
        let err = resolve(&name("sec")).unwrap_err();
        assert_eq!(err[0].help.as_deref(), Some("write the SI symbol: `s`"));
        let err = resolve(&name("kgg")).unwrap_err();
        assert_eq!(err[0].help.as_deref(), Some("did you mean `kg`?"));
        let err = resolve(&name("Kg")).unwrap_err();
        assert_eq!(err[0].help.as_deref(), Some("did you mean `kg`?"));
        let err = resolve(&name("degC")).unwrap_err();
        assert_eq!(err[0].code, "E0406");
        let err = resolve(&pow(name("m"), 1, 0)).unwrap_err();
        assert_eq!(err[0].code, "E0406");
    }
}

#[cfg(test)]
mod described {
    use super::*;

    fn unit(text: &str) -> Unit {
        let parsed = crate::parser::parse(
            sci_diag::FileId(0),
            &format!("model M {{\n param p: {text} = 1\n}}\n"),
        );
        let Some(crate::ast::ItemKind::Model(m)) = parsed.file.items.first().map(|i| &i.kind)
        else {
            panic!("no model");
        };
        let crate::ast::MemberKind::Param(d) = &m.members[0].kind else {
            panic!("no param");
        };
        resolve(d.ty.as_ref().and_then(|t| t.unit.as_ref()).unwrap()).unwrap()
    }

    /// Scaled units are described as a user would write them, and each description reads
    /// back to the same unit.
    #[test]
    fn scaled_units_read_as_written_and_back() {
        for (written, described) in [
            ("1/day", "1/day"),
            ("km/h", "km/h"),
            ("mol/L", "mol/dm^3"),
            ("mg", "mg"),
            ("1/min", "1/min"),
            ("mm/s^2", "mm/s^2"),
            ("g/L", "kg/m^3"),
            ("day", "day"),
        ] {
            let u = unit(written);
            let text = describe(&u);
            assert_eq!(text, described, "{written}");
            let back = unit(&text);
            assert!(back.same_dimension(&u) && (back.scale - u.scale).abs() <= 1e-12 * u.scale);
        }
    }
}
