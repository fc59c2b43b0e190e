//! The `GOSUMDB` setting: which database, and what to do when it is down.

use gomod::note;

/// What to do when the database cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Refuse to admit (the default).
    Strict,
    /// Admit, marked unverified; verify in the background and quarantine
    /// on mismatch.
    Warn,
}

/// A parsed `GOSUMDB` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// The database's name (`sum.golang.org`).
    pub name: String,
    /// The verifier key `name+hash+key`.
    pub vkey: String,
    /// Where to reach it (no trailing `/`).
    pub url: String,
}

/// Why a `GOSUMDB` value is refused.
#[derive(Debug, thiserror::Error)]
pub enum GosumdbError {
    #[error("missing GOSUMDB")]
    Missing,
    #[error("invalid GOSUMDB: too many fields")]
    TooManyFields,
    #[error("invalid GOSUMDB: {0}")]
    Key(note::Error),
    #[error("invalid sumdb name (must be host[/path]): {0}")]
    Name(String),
    #[error("invalid GOSUMDB URL {0:?}: expected http:// or https://")]
    Url(String),
}

/// Parses `GOSUMDB` with the go command's rules: `off`; a known name
/// (`sum.golang.org`, and `sum.golang.google.cn` as its alias reached at
/// that host); or a verifier key, optionally followed by the URL to reach
/// the database at (default `https://<name>`). `None` for `off`.
pub fn parse_gosumdb(s: &str) -> Result<Option<DbConfig>, GosumdbError> {
    let s = s.trim();
    if s == "off" {
        return Ok(None);
    }
    let s = if s == "sum.golang.google.cn" {
        "sum.golang.org https://sum.golang.google.cn"
    } else {
        s
    };
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.is_empty() {
        return Err(GosumdbError::Missing);
    }
    if fields.len() > 2 {
        return Err(GosumdbError::TooManyFields);
    }
    let vkey = if fields[0] == "sum.golang.org" {
        note::SUM_GOLANG_ORG_KEY
    } else {
        fields[0]
    };
    let v = note::new_verifier(vkey).map_err(GosumdbError::Key)?;
    let name = note::Verifier::name(&v).to_owned();
    let name_ok = !name.is_empty()
        && !name.ends_with('/')
        && !name.starts_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/:".contains(c));
    if !name_ok {
        return Err(GosumdbError::Name(name));
    }
    let url = match fields.get(1) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            u.trim_end_matches('/').to_owned()
        }
        Some(u) => return Err(GosumdbError::Url((*u).to_owned())),
        None => format!("https://{name}"),
    };
    Ok(Some(DbConfig {
        name,
        vkey: vkey.to_owned(),
        url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gosumdb_values() {
        assert_eq!(parse_gosumdb("off").unwrap(), None);
        let d = parse_gosumdb("sum.golang.org").unwrap().unwrap();
        assert_eq!(
            (d.name.as_str(), d.url.as_str()),
            ("sum.golang.org", "https://sum.golang.org")
        );
        assert_eq!(d.vkey, note::SUM_GOLANG_ORG_KEY);
        let d = parse_gosumdb("sum.golang.google.cn").unwrap().unwrap();
        assert_eq!(
            (d.name.as_str(), d.url.as_str()),
            ("sum.golang.org", "https://sum.golang.google.cn")
        );
        let (_, vkey) = note::generate_key("db.example.com").unwrap();
        let d = parse_gosumdb(&format!("{vkey} http://127.0.0.1:9/"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.name.as_str(), d.url.as_str()),
            ("db.example.com", "http://127.0.0.1:9")
        );
        for bad in ["", "a b c", "nokey", "sum.golang.org ftp://x"] {
            assert!(parse_gosumdb(bad).is_err(), "{bad:?}");
        }
    }
}
