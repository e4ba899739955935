//! A self-contained port of upstream `resource.Quantity` parsing,
//! comparison and canonical formatting.
//!
//! Values are stored exactly in units of 10^-9 (upstream rounds to nano
//! precision when canonicalizing), in an `i128`.

use std::cmp::Ordering;

/// The format a quantity was written in, as upstream's `resource.Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// e.g. `12e6`.
    DecimalExponent,
    /// e.g. `12Mi` (powers of 2).
    BinarySI,
    /// e.g. `12M` (powers of 10).
    DecimalSI,
}

/// A parse failure, with upstream's error texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not match the quantity regex.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    /// The numeric part could not be parsed (or is out of range).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is not a known suffix.
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// A parsed quantity.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nano: i128,
    format: QuantityFormat,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nano == other.nano
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nano.cmp(&other.nano)
    }
}

const MAX_ABS: i128 = 10_i128.pow(36);

fn pow10(e: u32) -> Option<i128> {
    10_i128.checked_pow(e)
}

fn ceil_div(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d != 0 {
        if n > 0 {
            q + 1
        } else {
            q - 1
        }
    } else {
        q
    }
}

/// Parses a quantity string like `100m`, `1.5Gi`, `2e3`.
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    Quantity::parse(s)
}

impl Quantity {
    /// Parses a quantity string (see [`parse_quantity`]).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let b = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if b[0] == b'+' || b[0] == b'-' {
            negative = b[0] == b'-';
            i = 1;
        }
        let num_start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let number = &s[num_start..i];
        if number.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let suffix = &s[i..];
        // Suffix must match [eEinumkKMGTP]*[-+]?[0-9]*
        {
            let sb = suffix.as_bytes();
            let mut j = 0;
            while j < sb.len() && b"eEinumkKMGTP".contains(&sb[j]) {
                j += 1;
            }
            if j < sb.len() && (sb[j] == b'+' || sb[j] == b'-') {
                j += 1;
            }
            while j < sb.len() && sb[j].is_ascii_digit() {
                j += 1;
            }
            if j != sb.len() {
                return Err(QuantityError::FormatWrong);
            }
        }
        let (int_part, frac_part) = match number.split_once('.') {
            Some((a, f)) => {
                if f.contains('.') {
                    return Err(QuantityError::Numeric);
                }
                (a, f)
            }
            None => (number, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(QuantityError::Numeric);
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(QuantityError::Numeric);
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| QuantityError::Numeric)?
        };
        let scale = frac_part.len() as i64;
        let (base2, exp, format) = parse_suffix(suffix)?;
        let nano = if base2 {
            let mult = 1_i128
                .checked_shl(exp as u32)
                .ok_or(QuantityError::Numeric)?;
            let n = mantissa
                .checked_mul(mult)
                .and_then(|n| n.checked_mul(1_000_000_000))
                .ok_or(QuantityError::Numeric)?;
            let d = pow10(scale as u32).ok_or(QuantityError::Numeric)?;
            ceil_div(n, d)
        } else {
            let e = exp + 9 - scale;
            if e >= 0 {
                let m = pow10(e as u32).ok_or(QuantityError::Numeric)?;
                mantissa.checked_mul(m).ok_or(QuantityError::Numeric)?
            } else {
                match pow10((-e) as u32) {
                    Some(d) => ceil_div(mantissa, d),
                    None => i128::from(mantissa != 0),
                }
            }
        };
        if nano.abs() > MAX_ABS {
            return Err(QuantityError::Numeric);
        }
        Ok(Quantity {
            nano: if negative { -nano } else { nano },
            format,
        })
    }

    /// A quantity of `nano` units of 10^-9, written in `format` (for sums of quantities).
    pub fn from_nano(nano: i128, format: QuantityFormat) -> Quantity {
        Quantity { nano, format }
    }

    /// The value in units of 10^-9.
    pub fn nano_value(&self) -> i128 {
        self.nano
    }

    /// The format the quantity was written in.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nano == 0
    }

    /// Whether the value is negative.
    pub fn is_negative(&self) -> bool {
        self.nano < 0
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        self.nano % 1_000_000_000 == 0
    }
}

fn parse_suffix(suffix: &str) -> Result<(bool, i64, QuantityFormat), QuantityError> {
    use QuantityFormat::*;
    let r = match suffix {
        "" => (false, 0, DecimalSI),
        "n" => (false, -9, DecimalSI),
        "u" => (false, -6, DecimalSI),
        "m" => (false, -3, DecimalSI),
        "k" => (false, 3, DecimalSI),
        "M" => (false, 6, DecimalSI),
        "G" => (false, 9, DecimalSI),
        "T" => (false, 12, DecimalSI),
        "P" => (false, 15, DecimalSI),
        "E" => (false, 18, DecimalSI),
        "Ki" => (true, 10, BinarySI),
        "Mi" => (true, 20, BinarySI),
        "Gi" => (true, 30, BinarySI),
        "Ti" => (true, 40, BinarySI),
        "Pi" => (true, 50, BinarySI),
        "Ei" => (true, 60, BinarySI),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            let e: i64 = s[1..].parse().map_err(|_| QuantityError::Suffix)?;
            if !(-1000..=1000).contains(&e) {
                return Err(QuantityError::Numeric);
            }
            (false, e, DecimalExponent)
        }
        _ => return Err(QuantityError::Suffix),
    };
    Ok(r)
}

fn decimal_suffix(exp: i64, format: QuantityFormat) -> String {
    if format == QuantityFormat::DecimalSI {
        let s = match exp {
            -9 => Some("n"),
            -6 => Some("u"),
            -3 => Some("m"),
            0 => Some(""),
            3 => Some("k"),
            6 => Some("M"),
            9 => Some("G"),
            12 => Some("T"),
            15 => Some("P"),
            18 => Some("E"),
            _ => None,
        };
        if let Some(s) = s {
            return s.to_string();
        }
    }
    if exp == 0 {
        String::new()
    } else {
        format!("e{exp}")
    }
}

impl std::fmt::Display for Quantity {
    /// Canonical form, as upstream's `Quantity.String()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.nano == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySI
            && (self.nano.abs() < 1024 * 1_000_000_000 || !self.is_integer())
        {
            format = QuantityFormat::DecimalSI;
        }
        if format == QuantityFormat::BinarySI {
            let mut amount = self.nano / 1_000_000_000;
            let mut exp = 0;
            while amount % 1024 == 0 && exp < 60 {
                amount /= 1024;
                exp += 10;
            }
            let suffix = match exp {
                0 => "",
                10 => "Ki",
                20 => "Mi",
                30 => "Gi",
                40 => "Ti",
                50 => "Pi",
                _ => "Ei",
            };
            return write!(f, "{amount}{suffix}");
        }
        let mut amount = self.nano;
        let mut exp: i64 = -9;
        while amount % 10 == 0 {
            amount /= 10;
            exp += 1;
        }
        match exp.rem_euclid(3) {
            1 => {
                amount *= 10;
                exp -= 1;
            }
            2 => {
                amount *= 100;
                exp -= 2;
            }
            _ => {}
        }
        write!(f, "{}{}", amount, decimal_suffix(exp, format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        parse_quantity(s).map(|q| q.to_string()).unwrap_or_default()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canon("1000m"), "1");
        assert_eq!(canon("1.5"), "1500m");
        assert_eq!(canon("1024Mi"), "1Gi");
        assert_eq!(canon("0.5Gi"), "512Mi");
        assert_eq!(canon("100"), "100");
        assert_eq!(canon("1k"), "1k");
        assert_eq!(canon("1000"), "1k");
        assert_eq!(canon("12e6"), "12e6");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("512"), "512");
        assert_eq!(canon("1Ki"), "1Ki");
        assert_eq!(canon("0"), "0");
        assert_eq!(canon("-1"), "-1");
        assert_eq!(canon("0.1"), "100m");
    }

    #[test]
    fn errors_and_comparison() {
        assert_eq!(parse_quantity("abc"), Err(QuantityError::FormatWrong));
        assert_eq!(parse_quantity(""), Err(QuantityError::FormatWrong));
        assert_eq!(parse_quantity("1Qi"), Err(QuantityError::FormatWrong));
        assert_eq!(parse_quantity("1iK"), Err(QuantityError::Suffix));
        assert_eq!(parse_quantity("1.2.3"), Err(QuantityError::Numeric));
        let a = parse_quantity("500m").unwrap_or(Quantity {
            nano: 0,
            format: QuantityFormat::DecimalSI,
        });
        let b = parse_quantity("1").unwrap_or(Quantity {
            nano: 0,
            format: QuantityFormat::DecimalSI,
        });
        assert!(a < b);
        assert_eq!(
            parse_quantity("1Gi").ok(),
            parse_quantity("1073741824").ok()
        );
    }
}
