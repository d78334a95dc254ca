//! Attribute lists (`NAME=VALUE,NAME="quoted value"`, RFC 8216bis section 4.2), read leniently:
//! whitespace around names, `=` and `,` is tolerated (servers write it), a quoted string must be
//! closed.

/// One attribute's value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// A quoted string, without its quotes.
    Quoted(String),
    /// Anything else (a number, an enumerated string, a hexadecimal sequence), trimmed.
    Plain(String),
}

impl Value {
    /// The value without quotes.
    pub(super) fn text(&self) -> &str {
        match self {
            Value::Quoted(s) | Value::Plain(s) => s,
        }
    }
}

/// The attributes of one tag, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Attrs(pub(super) Vec<(String, Value)>);

impl Attrs {
    /// Reads an attribute list; `Err` says what is wrong with it.
    pub(super) fn parse(s: &str) -> Result<Attrs, String> {
        let mut out = Vec::new();
        let mut rest = s.trim();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| format!("{rest:?} is not NAME=VALUE"))?;
            let name = rest[..eq].trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(format!("{name:?} is not an attribute name"));
            }
            let after = rest[eq + 1..].trim_start();
            let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                let close = q
                    .find('"')
                    .ok_or_else(|| format!("the quoted value of {name} is not closed"))?;
                (Value::Quoted(q[..close].to_owned()), &q[close + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (Value::Plain(after[..end].trim().to_owned()), &after[end..])
            };
            let tail = tail.trim_start();
            rest = match tail.strip_prefix(',') {
                Some(t) => t.trim_start(),
                None if tail.is_empty() => tail,
                None => return Err(format!("{tail:?} follows the value of {name}")),
            };
            out.push((name.to_owned(), value));
        }
        Ok(Attrs(out))
    }

    /// The value of attribute `name`, if present.
    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Written back in canonical form: no whitespace, quoted values quoted.
    pub(super) fn write(&self) -> String {
        let mut s = String::new();
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(name);
            s.push('=');
            match value {
                Value::Quoted(v) => {
                    s.push('"');
                    s.push_str(v);
                    s.push('"');
                }
                Value::Plain(v) => s.push_str(v),
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_quoted_and_plain_values_with_whitespace() {
        let a = Attrs::parse(r#"METHOD=AES-128, URI = "k, 1.bin" ,IV=0x01"#).unwrap();
        assert_eq!(a.get("METHOD"), Some(&Value::Plain("AES-128".into())));
        assert_eq!(a.get("URI"), Some(&Value::Quoted("k, 1.bin".into())));
        assert_eq!(a.get("IV").map(Value::text), Some("0x01"));
        assert_eq!(a.write(), r#"METHOD=AES-128,URI="k, 1.bin",IV=0x01"#);
    }

    #[test]
    fn broken_lists_are_errors() {
        assert!(Attrs::parse(r#"URI="never closed"#).is_err());
        assert!(Attrs::parse("BANDWIDTH").is_err());
        assert!(Attrs::parse(r#"URI="a"x,B=1"#).is_err());
        assert!(Attrs::parse("lower=1").is_err());
        assert_eq!(Attrs::parse("").unwrap(), Attrs::default());
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(s in ".{0,80}") {
            if let Ok(a) = Attrs::parse(&s) {
                prop_assert_eq!(Attrs::parse(&a.write()).unwrap(), a);
            }
        }
    }
}
